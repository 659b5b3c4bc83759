// Package deploy holds SpawnIt's self-deployment: the OpenTofu stacks and modules that
// run SpawnIt, its S3 server and its identity provider as Docker containers
// (stacks/, modules/), the script that applies them (deploy.sh) and the images they
// run (image/). See README.md. The Go code here is only its integration test.
package deploy
