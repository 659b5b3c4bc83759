//go:build !unix

package api

import "net"

// peekSupported: without a way to peek at a socket, streams keep the ordinary path.
const peekSupported = false

func peerClosed(net.Conn) bool { return false }
