package main

// login, logout, context and the credentials of every command: signing in to a server
// with OIDC (authorization code with PKCE on a loopback redirect), keeping the tokens
// in the configuration file and refreshing them.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/client"
)

// refreshMargin: a token expiring sooner than this is refreshed before a call.
const refreshMargin = 30 * time.Second

// loginTimeout bounds the wait for the browser's sign-in.
const loginTimeout = 5 * time.Minute

// credentials returns the server and token of the command: --server/--token win,
// then SPAWNIT_SERVER/SPAWNIT_TOKEN, then the saved context, whose token is refreshed
// when it is about to expire. A context's token is only ever sent to its own server.
func (app *cliApp) credentials(ctx context.Context) (server, token string, err error) {
	env := app.env
	server = cliFirstSet(app.server, env.getenv("SPAWNIT_SERVER"))
	token = cliFirstSet(app.token, env.getenv("SPAWNIT_TOKEN"))
	cfg, err := env.loadConfig()
	if err != nil {
		return "", "", err
	}
	name := app.contextName(cfg)
	cc := cfg.Contexts[name]
	if name != "" && cc == nil && (app.context != "" || env.getenv("SPAWNIT_CONTEXT") != "") {
		return "", "", usageError{fmt.Sprintf("no context %q: see spawnit context list", name)}
	}
	if cc == nil {
		return cliFirstSet(server, cliDefaultServer), token, nil
	}
	if server == "" {
		server = cc.Server
	}
	if token != "" || server != cc.Server || cc.Token == "" {
		return server, token, nil
	}
	if cc.RefreshToken != "" && time.Until(cc.Expiry) < refreshMargin {
		if err := app.refresh(ctx, cfg, name, cc); err != nil {
			return "", "", err
		}
	}
	return server, cc.Token, nil
}

// refresh gets a new token for the context with its refresh token and saves it.
func (app *cliApp) refresh(ctx context.Context, cfg *cliConfig, name string, cc *cliContext) error {
	party, err := relyingParty(ctx, cc.Issuer, cc.ClientID, "", nil)
	if err != nil {
		return fmt.Errorf("cannot refresh the sign-in of context %s: %w", name, err)
	}
	tokens, err := rp.RefreshTokens[*oidc.IDTokenClaims](ctx, party, cc.RefreshToken, "", "")
	if err != nil || tokens.IDToken == "" {
		if err == nil {
			err = errors.New("no ID token in the answer")
		}
		return fmt.Errorf("the sign-in of context %s has ended (%v)\nSign in again with: spawnit login %s --context %s", name, err, cc.Server, name)
	}
	cc.Token = tokens.IDToken
	if tokens.IDTokenClaims != nil {
		cc.Expiry = tokens.IDTokenClaims.GetExpiration()
	}
	if tokens.RefreshToken != "" { // a provider may rotate refresh tokens
		cc.RefreshToken = tokens.RefreshToken
	}
	return app.env.saveConfig(cfg)
}

func relyingParty(ctx context.Context, issuer, clientID, redirect string, scopes []string) (rp.RelyingParty, error) {
	if issuer == "" || clientID == "" {
		return nil, errors.New("the context has no sign-in settings")
	}
	// A public client: no secret, its id in the form.
	return rp.NewRelyingPartyOIDC(ctx, issuer, clientID, "", redirect, scopes,
		rp.WithAuthStyle(oauth2.AuthStyleInParams), rp.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
}

func (app *cliApp) loginCmd() *cobra.Command {
	var name string
	var noBrowser bool
	cmd := &cobra.Command{
		Use:   "login [server] [--context <name>]",
		Short: "sign in to a server and save it as a context",
		Long: "Sign in to a SpawnIt server: the server says which OpenID provider to use, your browser\n" +
			"signs you in there (authorization code with PKCE, redirected to a port of this machine),\n" +
			"and the tokens are saved in the configuration file (readable by you only) as a context,\n" +
			"made current. Commands then refresh the token themselves. SPAWNIT_TOKEN and --token\n" +
			"still win. A single-user server needs no sign-in: it is saved as a context all the same.",
		Args: cliArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			env := app.env
			server := cliFirstSet(app.server, env.getenv("SPAWNIT_SERVER"))
			if len(args) == 1 {
				server = args[0]
			}
			cfg, err := env.loadConfig()
			if err != nil {
				return err
			}
			if server == "" {
				if cc := cfg.Contexts[app.contextName(cfg)]; cc != nil {
					server = cc.Server
				}
			}
			if server == "" {
				return usageError{"login needs the server's URL"}
			}
			c, err := client.New(server, append([]client.Option{client.WithUserAgent("spawnit-cli/1")}, env.clientOpts...)...)
			if err != nil {
				return usageError{strings.TrimPrefix(err.Error(), "client: ")}
			}
			s := &cliSession{env: env, c: c, server: c.BaseURL()}
			settings, err := c.CLILogin(ctx)
			if err != nil {
				return s.explain(err, nil)
			}
			if name == "" {
				name = contextNameFor(s.server)
			}
			cc := &cliContext{Server: s.server}
			switch {
			case settings.SingleUser:
				fmt.Fprintf(env.stderr, "Server %s is single-user: no sign-in needed.\n", s.server)
			case settings.ClientID == "":
				return fmt.Errorf("server %s accepts no sign-in from the command line (its operator sets --oidc-cli-client-id)\n"+
					"Give a token with SPAWNIT_TOKEN instead.", s.server)
			default:
				if err := app.signIn(ctx, cc, settings, noBrowser); err != nil {
					return err
				}
			}
			cfg.Contexts[name] = cc
			cfg.Current = name
			if err := env.saveConfig(cfg); err != nil {
				return err
			}
			who := ""
			if cc.Token != "" {
				s.c, _ = client.New(s.server, append([]client.Option{client.WithToken(cc.Token), client.WithUserAgent("spawnit-cli/1")}, env.clientOpts...)...)
				me, err := s.c.Me(ctx)
				if err != nil {
					return s.explain(err, map[string]string{apiv1.CodeUnauthenticated: "The server refused the sign-in's token: its operator may have set another client id."})
				}
				who = fmt.Sprintf(" as %s (tenant %s)", cliClean(cliFirstSet(me.Email, me.Name, me.Subject)), cliClean(me.Tenant))
			}
			fmt.Fprintf(env.stdout, "Signed in to %s%s. Context %s is now current.\n", s.server, who, name)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "context", "", "`name` of the context to save (default: the server's host)")
	cmd.Flags().BoolVar(&noBrowser, "no-browser", false, "do not open a browser: print the URL to open")
	return cmd
}

// contextNameFor names a server's context after its host ("spawnit.example.com",
// "127.0.0.1:8080").
func contextNameFor(server string) string {
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		return u.Host
	}
	return server
}

// signIn runs the authorization code flow with PKCE: a loopback listener receives the
// browser's redirect, and the code is exchanged for the tokens saved in cc.
func (app *cliApp) signIn(ctx context.Context, cc *cliContext, settings *apiv1.CLILogin, noBrowser bool) error {
	env := app.env
	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("cannot listen for the sign-in's redirect: %w", err)
	}
	defer l.Close()
	redirect := fmt.Sprintf("http://%s/callback", l.Addr())
	scopes := settings.Scopes
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		scopes = append([]string{oidc.ScopeOpenID}, scopes...)
	}
	party, err := relyingParty(ctx, settings.Issuer, settings.ClientID, redirect, scopes)
	if err != nil {
		return fmt.Errorf("the server's OpenID provider %s: %w", settings.Issuer, err)
	}
	verifier, state := randomString(), randomString()
	authURL := rp.AuthURL(state, party, rp.WithCodeChallenge(oidc.NewSHACodeChallenge(verifier)))

	type result struct{ code, err string }
	results := make(chan result, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		res := result{code: q.Get("code")}
		switch {
		case q.Get("state") != state:
			res = result{err: "the answer does not belong to this sign-in (state mismatch)"}
		case q.Get("error") != "":
			res = result{err: cliClean(q.Get("error") + ": " + q.Get("error_description"))}
		case res.code == "":
			res = result{err: "the answer has no code"}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if res.err != "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "<!doctype html><title>SpawnIt</title><p>Sign-in failed: %s</p>", html.EscapeString(res.err))
		} else {
			fmt.Fprint(w, "<!doctype html><title>SpawnIt</title><p>Signed in. You can close this tab and go back to the terminal.</p>")
		}
		select {
		case results <- res:
		default:
		}
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	fmt.Fprintf(env.stderr, "Sign in in your browser. If it does not open, open this URL:\n\n  %s\n\n", authURL)
	if !noBrowser {
		open := env.openBrowser
		if open == nil {
			open = openBrowser
		}
		_ = open(authURL) // the URL is printed either way
	}
	var res result
	select {
	case res = <-results:
	case <-ctx.Done():
		return fmt.Errorf("no sign-in within %s: %w", loginTimeout, ctx.Err())
	}
	if res.err != "" {
		return errors.New("sign-in failed: " + res.err)
	}
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, res.code, party, rp.WithCodeVerifier(verifier))
	if err != nil {
		return fmt.Errorf("sign-in failed: the provider did not give tokens: %w", err)
	}
	if tokens.IDToken == "" {
		return errors.New("sign-in failed: the provider gave no ID token")
	}
	cc.Issuer, cc.ClientID = settings.Issuer, settings.ClientID
	cc.Token, cc.RefreshToken = tokens.IDToken, tokens.RefreshToken
	if tokens.IDTokenClaims != nil {
		cc.Expiry, cc.Subject = tokens.IDTokenClaims.GetExpiration(), tokens.IDTokenClaims.GetSubject()
	}
	if cc.RefreshToken == "" {
		fmt.Fprintln(env.stderr, "The provider gave no refresh token: sign in again when the token expires.")
	}
	return nil
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// openBrowser asks the desktop to open url.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

func (app *cliApp) logoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "sign out of the current context: revoke its refresh token and forget its tokens",
		Args:  cliArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			env := app.env
			cfg, err := env.loadConfig()
			if err != nil {
				return err
			}
			name := app.contextName(cfg)
			cc := cfg.Contexts[name]
			if cc == nil || (cc.Token == "" && cc.RefreshToken == "") {
				fmt.Fprintln(env.stdout, "Not signed in.")
				return nil
			}
			var revokeErr error
			if cc.RefreshToken != "" {
				party, err := relyingParty(ctx, cc.Issuer, cc.ClientID, "", nil)
				if err == nil {
					err = rp.RevokeToken(ctx, party, cc.RefreshToken, "refresh_token")
				}
				revokeErr = err
			}
			// The tokens are forgotten even when the provider could not be told: this
			// machine is signed out either way.
			cc.Token, cc.RefreshToken, cc.Expiry, cc.Subject = "", "", time.Time{}, ""
			if err := env.saveConfig(cfg); err != nil {
				return err
			}
			if revokeErr != nil {
				return fmt.Errorf("signed out here, but the provider could not revoke the refresh token: %w", revokeErr)
			}
			fmt.Fprintf(env.stdout, "Signed out of %s (context %s).\n", cc.Server, name)
			return nil
		},
	}
}

func (app *cliApp) contextCmd() *cobra.Command {
	cmd := groupCmd(&cobra.Command{
		Use:   "context",
		Short: "list the saved contexts (servers) or switch to another",
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "list the saved contexts",
		Args:  cliArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := app.env.loadConfig()
			if err != nil {
				return err
			}
			current := app.contextName(cfg)
			names := make([]string, 0, len(cfg.Contexts))
			for n := range cfg.Contexts {
				names = append(names, n)
			}
			slices.Sort(names)
			if app.output != "text" {
				type entry struct {
					Name     string `json:"name"`
					Server   string `json:"server"`
					Current  bool   `json:"current"`
					SignedIn bool   `json:"signed_in"`
					Subject  string `json:"subject,omitempty"`
				}
				list := struct {
					Contexts []entry `json:"contexts"`
				}{Contexts: []entry{}}
				for _, n := range names {
					cc := cfg.Contexts[n]
					list.Contexts = append(list.Contexts, entry{n, cc.Server, n == current, cc.Token != "", cc.Subject})
				}
				s := &cliSession{env: app.env, json: true, format: app.output}
				return s.printJSON(list)
			}
			if len(names) == 0 {
				fmt.Fprintln(app.env.stdout, "No contexts yet: sign in with spawnit login <server>.")
				return nil
			}
			rows := make([][]string, len(names))
			for i, n := range names {
				cc := cfg.Contexts[n]
				mark, user := "", cc.Subject
				if n == current {
					mark = "*"
				}
				if cc.Token == "" {
					user = ""
				}
				rows[i] = []string{mark, n, cc.Server, user}
			}
			s := &cliSession{env: app.env}
			return s.table([]string{"CURRENT", "NAME", "SERVER", "SIGNED IN AS"}, rows)
		},
	}, &cobra.Command{
		Use:               "use <name>",
		Short:             "make a saved context the current one",
		Args:              cliArgs(1, 1),
		ValidArgsFunction: app.completeContexts,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := app.env.loadConfig()
			if err != nil {
				return err
			}
			if cfg.Contexts[args[0]] == nil {
				return fmt.Errorf("no context %q: see spawnit context list", args[0])
			}
			cfg.Current = args[0]
			if err := app.env.saveConfig(cfg); err != nil {
				return err
			}
			fmt.Fprintf(app.env.stdout, "Context %s (%s) is now current.\n", args[0], cfg.Contexts[args[0]].Server)
			return nil
		},
	})
	return cmd
}

func (app *cliApp) completeContexts(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cfg, err := app.env.loadConfig()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for n, cc := range cfg.Contexts {
		if strings.HasPrefix(n, toComplete) {
			out = append(out, cobra.CompletionWithDesc(n, cc.Server))
		}
	}
	slices.Sort(out)
	return out, cobra.ShellCompDirectiveNoFileComp
}
