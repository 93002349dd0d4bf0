// Command coredns is CoreDNS with only the plugins the test cluster's
// Corefile uses (tools/k8s-testenv/node/Corefile). Upstream's main imports
// every plugin (cloud DNS providers included); linking only these keeps the
// build short and the binary small. The directive order stays upstream's
// (dnsserver.Directives), so the plugins chain exactly as in a stock build.
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() {
	coremain.Run()
}
