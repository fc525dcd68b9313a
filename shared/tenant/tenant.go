// Package tenant carries the organization a piece of work belongs to.
//
// Every storage adapter takes the tenant from the context it is given, never
// from an argument a handler builds, so a handler cannot address another
// tenant's data (ACC-03).
package tenant

import (
	"context"
	"errors"
	"fmt"
	"regexp"
)

// ID identifies an organization (the `org` claim of a token).
type ID string

// Platform is the scope of data that belongs to no single tenant (incidents,
// notices). Only code that calls WithPlatform can reach it; Valid refuses it
// as an org claim.
const Platform ID = "_platform"

// ErrNoTenant is returned by From when the context carries no tenant.
var ErrNoTenant = errors.New("tenant: no tenant in context")

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Valid reports whether id may name a tenant: 1 to 63 characters of
// lower-case letters, digits and hyphens, starting with a letter or digit.
func Valid(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("tenant: invalid org %q: want 1-63 of [a-z0-9-], starting with a letter or digit", id)
	}
	return nil
}

type ctxKey struct{}

// With returns a context scoped to the tenant id. It panics if id is not
// Valid: callers pass identifiers that were validated at the edge.
func With(ctx context.Context, id ID) context.Context {
	if err := Valid(string(id)); err != nil {
		panic(err)
	}
	return context.WithValue(ctx, ctxKey{}, id)
}

// WithPlatform returns a context scoped to the platform's own data.
func WithPlatform(ctx context.Context) context.Context {
	return context.WithValue(ctx, ctxKey{}, Platform)
}

// From returns the tenant of ctx. Returns ErrNoTenant if there is none.
func From(ctx context.Context) (ID, error) {
	id, ok := ctx.Value(ctxKey{}).(ID)
	if !ok || id == "" {
		return "", ErrNoTenant
	}
	return id, nil
}
