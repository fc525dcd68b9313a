package main

import (
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"

	"github.com/alto/alto/infra/cdk/buckets"
)

// Context keys the app reads (cdk.json, `cdk -c key=value`, or
// CDK_CONTEXT_JSON). Every one is optional.
const (
	ctxRegion         = "alto:region"             // default us-east-1 (OPS-02)
	ctxAccount        = "alto:account"            // default: the deploying credentials' account
	ctxFunctions      = "alto:functions"          // default "functions"
	ctxAssets         = "alto:assets"             // default "build" (make build)
	ctxDomain         = "alto:domain"             // custom API domain; with alto:certificateArn
	ctxCertificateArn = "alto:certificateArn"     // ACM certificate of alto:domain, in the stack's region
	ctxAuditDays      = "alto:auditRetentionDays" // Object Lock retention of audit digests, 1..2555 (default 365)
	ctxAlarmEmail     = "alto:alarmEmail"         // subscribes an address to the alarm topic
	ctxRateLimit      = "alto:rateLimit"          // stage throttling, requests per second
	ctxBurstLimit     = "alto:burstLimit"         // stage throttling, burst
	ctxWAFRateLimit   = "alto:wafRateLimit"       // WAF requests per client IP per 5 minutes
	ctxIssuer         = "alto:issuer"             // the identity provider's JWT issuer (ACC-01)
	ctxAudience       = "alto:audience"           // the audience Alto's tokens carry
	ctxJWKSURL        = "alto:jwksUrl"            // where the issuer publishes its keys (https)
	ctxMailFrom       = "alto:mailFrom"           // the sender of Alto's e-mail, verified in SES
)

// DefaultRegion is where a deployment goes unless its context names another.
const DefaultRegion = "us-east-1"

// regions are the commercial US and EU regions: residency is the prefix.
var regions = regexp.MustCompile(`^(us|eu)-(east|west|central|north|south)-[0-9]$`)

// Config is what one deployment is made of.
type Config struct {
	Region    string // an AWS region in the US or the EU
	Residency string // "us" or "eu", from Region (OPS-02)
	Account   string // empty: the deploying credentials' account

	FunctionsDir string // the repository's functions/ folder
	AssetDir     string // the output of make build

	Domain, CertificateArn string
	AuditRetentionDays     int
	AlarmEmail             string

	RateLimit, BurstLimit, WAFRateLimit int

	// Issuer, Audience and JWKSURL name the identity provider whose JWTs
	// the API trusts, all three or none (none: the functions' built-in
	// local issuer, which no client can use: fit for a smoke test only).
	Issuer, Audience, JWKSURL string

	// MailFrom is the sender of every e-mail (incident notices, purge
	// confirmations, notices): an address SES has verified, itself or its
	// domain. Without it the functions send no e-mail and say so.
	MailFrom string
}

// StackName is the stack's name: one per region, so an EU stack deploys
// beside a US one in the same account.
func (c Config) StackName() string { return "Alto-" + c.Region }

// ConfigFrom reads the configuration from context values (get returns nil
// for a missing key). It returns an error naming the key of the first value
// that is malformed or out of range.
func ConfigFrom(get func(key string) interface{}) (Config, error) {
	r := contextReader{get: get}
	c := Config{
		Region:             r.str(ctxRegion, DefaultRegion),
		Account:            r.str(ctxAccount, ""),
		FunctionsDir:       r.str(ctxFunctions, "functions"),
		AssetDir:           r.str(ctxAssets, "build"),
		Domain:             r.str(ctxDomain, ""),
		CertificateArn:     r.str(ctxCertificateArn, ""),
		AlarmEmail:         r.str(ctxAlarmEmail, ""),
		AuditRetentionDays: r.num(ctxAuditDays, buckets.MinAuditDays, buckets.MaxAuditDays),
		RateLimit:          r.num(ctxRateLimit, 1, 10000),
		BurstLimit:         r.num(ctxBurstLimit, 1, 5000),
		WAFRateLimit:       r.num(ctxWAFRateLimit, 10, 2000000000),
		Issuer:             r.str(ctxIssuer, ""),
		Audience:           r.str(ctxAudience, ""),
		JWKSURL:            r.str(ctxJWKSURL, ""),
		MailFrom:           r.str(ctxMailFrom, ""),
	}
	if r.err != nil {
		return Config{}, r.err
	}
	m := regions.FindStringSubmatch(c.Region)
	if m == nil {
		return Config{}, fmt.Errorf("cdk: context %s: got %q, want a US or EU region such as us-east-1 or eu-central-1 (OPS-02)", ctxRegion, c.Region)
	}
	c.Residency = m[1]
	if c.Account != "" && !accounts.MatchString(c.Account) {
		return Config{}, fmt.Errorf("cdk: context %s: got %q, want 12 digits", ctxAccount, c.Account)
	}
	if (c.Domain == "") != (c.CertificateArn == "") {
		return Config{}, fmt.Errorf("cdk: context %s and %s go together", ctxDomain, ctxCertificateArn)
	}
	if c.CertificateArn != "" && !strings.HasPrefix(c.CertificateArn, "arn:aws:acm:"+c.Region+":") {
		return Config{}, fmt.Errorf("cdk: context %s: want an ACM certificate in %s", ctxCertificateArn, c.Region)
	}
	if (c.Issuer == "") != (c.Audience == "") || (c.Issuer == "") != (c.JWKSURL == "") {
		return Config{}, fmt.Errorf("cdk: context %s, %s and %s go together", ctxIssuer, ctxAudience, ctxJWKSURL)
	}
	if c.JWKSURL != "" && !strings.HasPrefix(c.JWKSURL, "https://") {
		return Config{}, fmt.Errorf("cdk: context %s: want an https:// URL (ACC-06)", ctxJWKSURL)
	}
	if c.AlarmEmail != "" && !strings.Contains(c.AlarmEmail, "@") {
		return Config{}, fmt.Errorf("cdk: context %s: want an e-mail address", ctxAlarmEmail)
	}
	if a, err := mail.ParseAddress(c.MailFrom); c.MailFrom != "" && (err != nil || a.Address != c.MailFrom) {
		return Config{}, fmt.Errorf("cdk: context %s: want a bare e-mail address such as alto@example.com", ctxMailFrom)
	}
	return c, nil
}

var accounts = regexp.MustCompile(`^[0-9]{12}$`)

// contextReader reads context values and keeps the first error.
type contextReader struct {
	get func(key string) interface{}
	err error
}

func (r *contextReader) str(key, def string) string {
	switch v := r.get(key).(type) {
	case nil:
		return def
	case string:
		return strings.TrimSpace(v)
	default:
		r.fail(fmt.Errorf("cdk: context %s: got %v, want a string", key, v))
		return ""
	}
}

// num reads a whole number in min..max; a missing key is 0 (the default).
// Numbers from cdk.json arrive as float64, from the command line as strings.
func (r *contextReader) num(key string, min, max int) int {
	var n int
	switch v := r.get(key).(type) {
	case nil:
		return 0
	case float64:
		n = int(v)
		if float64(n) != v {
			r.fail(fmt.Errorf("cdk: context %s: got %v, want a whole number", key, v))
			return 0
		}
	case string:
		var err error
		if n, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
			r.fail(fmt.Errorf("cdk: context %s: got %q, want a whole number", key, v))
			return 0
		}
	default:
		r.fail(fmt.Errorf("cdk: context %s: got %v, want a whole number", key, v))
		return 0
	}
	if n < min || n > max {
		r.fail(fmt.Errorf("cdk: context %s: got %d, want %d..%d", key, n, min, max))
		return 0
	}
	return n
}

func (r *contextReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}
