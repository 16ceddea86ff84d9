package gcregion

import (
	"slices"
	"strings"
)

// Region is one Genesys Cloud region.
type Region struct {
	// Name is the AWS region name, such as us-east-1.
	Name string
	// Domain is the Genesys Cloud domain, such as mypurecloud.com.
	Domain string
}

// All lists the regions, in the SDK's order.
var All = []Region{
	{"us-east-1", "mypurecloud.com"},
	{"eu-west-1", "mypurecloud.ie"},
	{"ap-southeast-2", "mypurecloud.com.au"},
	{"ap-northeast-1", "mypurecloud.jp"},
	{"eu-central-1", "mypurecloud.de"},
	{"us-west-2", "usw2.pure.cloud"},
	{"ca-central-1", "cac1.pure.cloud"},
	{"ap-northeast-2", "apne2.pure.cloud"},
	{"eu-west-2", "euw2.pure.cloud"},
	{"ap-south-1", "aps1.pure.cloud"},
	{"us-east-2", "use2.us-gov-pure.cloud"},
	{"sa-east-1", "sae1.pure.cloud"},
	{"me-central-1", "mec1.pure.cloud"},
	{"ap-northeast-3", "apne3.pure.cloud"},
	{"eu-central-2", "euc2.pure.cloud"},
	{"mx-central-1", "mxc1.pure.cloud"},
	{"ap-southeast-1", "apse1.pure.cloud"},
}

// Lookup returns the domain of a region given by its domain or its AWS
// region name (either case), and whether it is known.
func Lookup(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	i := slices.IndexFunc(All, func(r Region) bool { return r.Domain == s || r.Name == s })
	if i < 0 {
		return "", false
	}
	return All[i].Domain, true
}

// Domains returns the known domains, for messages.
func Domains() []string {
	d := make([]string, len(All))
	for i, r := range All {
		d[i] = r.Domain
	}
	return d
}
