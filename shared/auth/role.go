package auth

import (
	"context"
	"fmt"
)

// Role is a principal's role: one of the four tenant roles or the platform
// security role.
type Role string

// The roles of ACC-02.
const (
	Owner    Role = "owner"
	Admin    Role = "admin"
	Manager  Role = "manager"
	Rep      Role = "rep"
	Security Role = "security"
)

// Roles lists every role, tenant roles first.
var Roles = []Role{Owner, Admin, Manager, Rep, Security}

// ParseRole returns the role named s. Returns an error for any other string.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("auth: unknown role %q", s)
}

// Action is something a route does; the matrix decides which roles may.
type Action string

// The actions of the permission matrix.
const (
	ReadSelf        Action = "self:read"          // GET /v1/me
	ReadAudit       Action = "audit:read"         // audit log and its verification
	ManageSettings  Action = "settings:write"     // notification and other tenant settings
	ManageRetention Action = "retention:write"    // shorten retention
	ManageUsers     Action = "users:write"        // SCIM token rotation
	GrantRoles      Action = "roles:grant"        // change another user's role
	SubjectRequests Action = "subject-requests"   // DSR of every kind
	ExportWorkspace Action = "workspace:export"   // whole-tenant export
	ManageContract  Action = "workspace:contract" // contract end, termination
	PurgeWorkspace  Action = "workspace:purge"    // crypto-shred and delete the tenant
	ReadContacts    Action = "contacts:read"      // scoped by Scope
	WriteContacts   Action = "contacts:write"     // scoped by Scope
	ManageImports   Action = "imports"            // CSV imports
	ManageForms     Action = "forms"              // web form definitions
	ManageCampaigns Action = "campaigns"          // campaigns and enqueueing
	ReadDrafts      Action = "drafts:read"        // scoped by Scope
	ReadIncidents   Action = "incidents:read"     // the tenant's own incidents
	ManageIncidents Action = "incidents:write"    // open, update, hold, RCA
	ReadNotices     Action = "notices:read"       // sub-processors and notices
	PostNotices     Action = "notices:write"      // announce a change
)

// matrix is the permission matrix of ACC-02: for each action, the roles
// that may perform it. An action missing here is allowed to nobody.
var matrix = map[Action][]Role{
	ReadSelf:        {Owner, Admin, Manager, Rep, Security},
	ReadAudit:       {Owner, Admin},
	ManageSettings:  {Owner, Admin},
	ManageRetention: {Owner, Admin},
	ManageUsers:     {Owner, Admin},
	GrantRoles:      {Owner},
	SubjectRequests: {Owner, Admin},
	ExportWorkspace: {Owner, Admin},
	ManageContract:  {Owner},
	PurgeWorkspace:  {Owner},
	ReadContacts:    {Owner, Admin, Manager, Rep},
	WriteContacts:   {Owner, Admin, Manager, Rep},
	ManageImports:   {Owner, Admin, Manager},
	ManageForms:     {Owner, Admin},
	ManageCampaigns: {Owner, Admin, Manager},
	ReadDrafts:      {Owner, Admin, Manager, Rep},
	ReadIncidents:   {Owner, Admin, Security},
	ManageIncidents: {Security},
	ReadNotices:     {Owner, Admin, Manager, Rep, Security},
	PostNotices:     {Security},
}

// Actions lists every action of the matrix, in a stable order.
var Actions = []Action{
	ReadSelf, ReadAudit, ManageSettings, ManageRetention, ManageUsers, GrantRoles,
	SubjectRequests, ExportWorkspace, ManageContract, PurgeWorkspace,
	ReadContacts, WriteContacts, ManageImports, ManageForms, ManageCampaigns, ReadDrafts,
	ReadIncidents, ManageIncidents, ReadNotices, PostNotices,
}

// Allowed reports whether role may perform action.
func Allowed(role Role, action Action) bool {
	for _, r := range matrix[action] {
		if r == role {
			return true
		}
	}
	return false
}

// Principal is the authenticated caller.
type Principal struct {
	Sub    string `json:"sub"`
	Org    string `json:"org"`
	Role   Role   `json:"role"`
	Branch string `json:"branch,omitempty"`
	Dept   string `json:"dept,omitempty"`
}

// Scope says which of a tenant's records a principal reaches below the org.
type Scope struct {
	All    bool   // every record of the tenant
	Owner  string // only records owned by this subject (rep)
	Branch string // only records of this branch (manager), when set
	Dept   string // only records of this department (manager), when set
	None   bool   // no record at all (security, or a manager with no branch or department)
}

// RecordScope returns the scope of p over contact-like records (ACC-02):
// owners and admins reach all, managers their branch and department, reps
// what they own, the security role nothing.
func RecordScope(p Principal) Scope {
	switch p.Role {
	case Owner, Admin:
		return Scope{All: true}
	case Manager:
		if p.Branch == "" && p.Dept == "" {
			return Scope{None: true}
		}
		return Scope{Branch: p.Branch, Dept: p.Dept}
	case Rep:
		if p.Sub == "" {
			return Scope{None: true}
		}
		return Scope{Owner: p.Sub}
	default:
		return Scope{None: true}
	}
}

// Includes reports whether a record with this owner, branch and department is
// inside the scope.
func (s Scope) Includes(owner, branch, dept string) bool {
	switch {
	case s.None:
		return false
	case s.All:
		return true
	case s.Owner != "":
		return owner == s.Owner
	default:
		return (s.Branch == "" || branch == s.Branch) && (s.Dept == "" || dept == s.Dept)
	}
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of ctx and whether there is one.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
