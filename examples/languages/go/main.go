// An AppLink app in Go with the standard library only (net/http, encoding/base64,
// encoding/json, crypto/hmac), reading the request as a Go web app would. With
// $HEROKU_APPLINK_MESH_ASSERTION_KEY set, it first verifies the sidecar's X-Applink-Assertion (a JWT).
//
// Procfile (the Go buildpack builds bin/<name>): web: APP_PORT=3000 heroku-applink-service-mesh bin/app
// It listens on $PORT, which the sidecar sets to the app's port. Every route but /healthcheck and
// /slow answers with what this runtime read: method, client context, AppLink headers and query.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func say(line string) { fmt.Printf("app: %s\n", line) }

// The usual struct: encoding/json matches keys ignoring case, and the last match wins.
type clientContext struct {
	OrgID       string `json:"orgId"`
	Version     string `json:"version"`
	UserContext struct {
		UserID string `json:"userId"`
	} `json:"userContext"`
}

type reading struct {
	Via    string `json:"via"`
	OrgID  any    `json:"orgId"`
	UserID any    `json:"userId"`
	Error  string `json:"error,omitempty"`
}

type answer struct {
	Language  string         `json:"language"`
	Method    string         `json:"method"`
	RequestID any            `json:"requestId"`
	OrgID     any            `json:"orgId"`
	UserID    any            `json:"userId"`
	Version   any            `json:"version"`
	Readings  []reading      `json:"readings"`
	Query     map[string]any `json:"query"`
	Assertion any            `json:"assertion"`
}

// orNull reports an empty Header.Get or Query().Get (Go's "absent") as null.
func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// gorilla/handlers' HTTPMethodOverrideHandler: on POST, the form's _method (body, then query),
// else the X-HTTP-Method-Override header, applied when it is exactly PUT, PATCH or DELETE.
func method(r *http.Request) string {
	if r.Method != "POST" {
		return r.Method
	}
	om := r.FormValue("_method")
	if om == "" {
		om = r.Header.Get("X-HTTP-Method-Override")
	}
	if om == "PUT" || om == "PATCH" || om == "DELETE" {
		return om
	}
	return r.Method
}

// The key the sidecar signs its assertions with: the variable's text as it is, never base64-decoded.
var assertionKey = os.Getenv("HEROKU_APPLINK_MESH_ASSERTION_KEY")

// jsonObject decodes a JWT part: base64url without padding, then a JSON object.
func jsonObject(part string) (map[string]any, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(part)
	var object map[string]any
	if err != nil || json.Unmarshal(raw, &object) != nil || object == nil { // nil: the JSON null
		return nil, false
	}
	return object, true
}

// verifyAssertion checks the sidecar's X-Applink-Assertion, a JWT signed HS256, against this very
// request: it returns its claims, or the reason to refuse the request. Without a key: nil, "".
func verifyAssertion(r *http.Request) (map[string]any, string) {
	if assertionKey == "" {
		return nil, ""
	}
	tokens := r.Header.Values("X-Applink-Assertion") // Get would take an empty header for none
	if len(tokens) == 0 {
		return nil, "missing"
	}
	parts := strings.Split(tokens[0], ".")
	if len(parts) != 3 {
		return nil, "malformed"
	}
	header, okHeader := jsonObject(parts[0])
	claims, okClaims := jsonObject(parts[1])
	signature, err := base64.RawURLEncoding.DecodeString(parts[2])
	if !okHeader || !okClaims || err != nil {
		return nil, "malformed"
	}
	if header["alg"] != "HS256" {
		return nil, "algorithm"
	}
	mac := hmac.New(sha256.New, []byte(assertionKey))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(signature, mac.Sum(nil)) { // constant time
		return nil, "signature"
	}
	if claims["iss"] != "heroku-applink-service-mesh" {
		return nil, "issuer"
	}
	if exp, ok := claims["exp"].(float64); !ok || exp <= float64(time.Now().Unix()) {
		return nil, "expired"
	}
	// The request line's method (not method(r), which applies the override) and its raw path:
	// RequestURI as sent, percent-encoding kept, up to the "?".
	if claims["method"] != r.Method {
		return nil, "method"
	}
	if path, _, _ := strings.Cut(r.RequestURI, "?"); claims["path"] != path {
		return nil, "path"
	}
	return claims, ""
}

func read(r *http.Request, claims map[string]any) answer {
	// Header.Get canonicalises the name (X-Client-Context), as the official mesh (Go) reads it.
	encoded := r.Header.Get("X-Client-Context")
	byStruct := reading{Via: "r.Header.Get + encoding/json struct"}
	byMap := reading{Via: "r.Header.Get + encoding/json map[string]any"}
	var version any
	if encoded != "" {
		raw, err := base64.StdEncoding.DecodeString(encoded) // strict: padding required
		if err != nil {
			byStruct.Error, byMap.Error = err.Error(), err.Error()
		} else {
			var cc clientContext
			if err := json.Unmarshal(raw, &cc); err != nil {
				byStruct.Error = err.Error()
			} else {
				byStruct.OrgID, byStruct.UserID, version = cc.OrgID, cc.UserContext.UserID, cc.Version
			}
			var m map[string]any // exact keys, any JSON type
			if err := json.Unmarshal(raw, &m); err != nil {
				byMap.Error = err.Error()
			} else {
				byMap.OrgID = m["orgId"]
				if user, ok := m["userContext"].(map[string]any); ok {
					byMap.UserID = user["userId"]
				}
			}
		}
	}
	// The sidecar's decoded context headers, by Header.Get.
	byHeaders := reading{Via: "r.Header.Get(\"X-Applink-Org-Id\")",
		OrgID: orNull(r.Header.Get("X-Applink-Org-Id")), UserID: orNull(r.Header.Get("X-Applink-User-Id"))}
	query := r.URL.Query() // Get: the first value; a ";" pair is dropped (Go 1.17+)
	// The verified assertion's claims, null for an absent one; null altogether without a key.
	var assertion any
	if claims != nil {
		assertion = map[string]any{"kind": claims["kind"], "orgId": claims["orgId"],
			"userId": claims["userId"], "jti": claims["jti"]}
	}
	return answer{
		Language:  "go",
		Method:    method(r),
		RequestID: orNull(r.Header.Get("X-Request-Id")),
		OrgID:     byStruct.OrgID,
		UserID:    byStruct.UserID,
		Version:   version,
		Readings:  []reading{byStruct, byMap, byHeaders},
		Query:     map[string]any{"orgId": orNull(query.Get("orgId")), "apiName": orNull(query.Get("apiName"))},
		Assertion: assertion,
	}
}

func handle(w http.ResponseWriter, r *http.Request) {
	say("request " + r.URL.Path)
	// Every route, /healthcheck and /slow included, only with a valid assertion when there is a key.
	claims, refused := verifyAssertion(r)
	if refused != "" {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, "assertion refused: "+refused)
		return
	}
	switch r.URL.Path {
	case "/healthcheck":
		fmt.Fprint(w, "ok")
		return
	case "/slow":
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil {
			ms = 1000
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprint(w, "slow ok")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(read(r, claims))
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	listener, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	server := &http.Server{Handler: http.HandlerFunc(handle)}
	say("listening on " + port)
	// The usual graceful stop: finish what is in flight, then exit 0.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	stopped := make(chan struct{})
	go func() {
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		server.Shutdown(ctx)
		close(stopped)
	}()
	if err := server.Serve(listener); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	<-stopped
	os.Exit(0)
}
