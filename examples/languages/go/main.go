// An AppLink app in Go with the standard library only (net/http, encoding/base64,
// encoding/json).
//
// Procfile (the Go buildpack builds bin/<name>): web: APP_PORT=3000 heroku-applink-service-mesh bin/app
// It listens on $PORT, which the sidecar sets to the app's port.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func say(line string) { fmt.Printf("app: %s\n", line) }

type clientContext struct {
	OrgID       string `json:"orgId"`
	Version     string `json:"version"`
	UserContext struct {
		UserID string `json:"userId"`
	} `json:"userContext"`
}

func handle(w http.ResponseWriter, r *http.Request) {
	say("request " + r.URL.Path)
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
	// As the official mesh (Go) sends it; Header.Get canonicalises the name.
	encoded := r.Header.Get("X-Client-Context")
	if encoded == "" {
		http.Error(w, "no client context", http.StatusUnauthorized)
		return
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		http.Error(w, "bad base64: "+err.Error(), http.StatusBadRequest)
		return
	}
	var cc clientContext
	if err := json.Unmarshal(raw, &cc); err != nil {
		http.Error(w, "bad JSON: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{
		"language":  "go",
		"orgId":     cc.OrgID,
		"userId":    cc.UserContext.UserID,
		"requestId": r.Header.Get("X-Request-Id"),
		"version":   cc.Version,
	})
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
