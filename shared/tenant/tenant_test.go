package tenant_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/alto/alto/shared/tenant"
)

func TestValid(t *testing.T) {
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"lower-case name", "acme", true},
		{"single letter", "a", true},
		{"single digit", "7", true},
		{"digits and hyphens", "acme-2024-eu", true},
		{"trailing hyphen", "acme-", true},
		{"63 characters", strings.Repeat("a", 63), true},
		{"64 characters", strings.Repeat("a", 64), false},
		{"empty", "", false},
		{"platform scope", string(tenant.Platform), false},
		{"upper case", "ACME", false},
		{"mixed case", "Acme", false},
		{"leading hyphen", "-a", false},
		{"key separator", "acme#x", false},
		{"slash", "acme/x", false},
		{"space", "ac me", false},
		{"trailing newline", "acme\n", false},
		{"NUL byte", "acme\x00", false},
		{"non-ASCII letter", "acmé", false},
		{"underscore", "ac_me", false},
		{"dot", "acme.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tenant.Valid(tt.id)
			if got := err == nil; got != tt.ok {
				t.Errorf("Valid(%q) = %v, want ok %v", tt.id, err, tt.ok)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "tenant: ") {
				t.Errorf("Valid(%q) error = %q, want it prefixed with %q", tt.id, err, "tenant: ")
			}
		})
	}
}

func TestWithAndFrom(t *testing.T) {
	ctx := tenant.With(context.Background(), "acme")
	got, err := tenant.From(ctx)
	if err != nil {
		t.Fatalf("From(With(acme)): %v", err)
	}
	if want := tenant.ID("acme"); got != want {
		t.Errorf("From(With(acme)) = %q, want %q", got, want)
	}

	// An inner scope replaces the outer one; the outer context is unchanged.
	inner := tenant.With(ctx, "globex")
	if got, _ := tenant.From(inner); got != "globex" {
		t.Errorf("From(inner) = %q, want %q", got, "globex")
	}
	if got, _ := tenant.From(ctx); got != "acme" {
		t.Errorf("From(outer) after inner scope = %q, want %q", got, "acme")
	}
}

func TestWithPanicsOnInvalidID(t *testing.T) {
	tests := []struct {
		name string
		id   tenant.ID
	}{
		{"empty", ""},
		{"upper case", "ACME"},
		{"key separator", "acme#x"},
		{"platform scope", tenant.Platform},
		{"leading hyphen", "-a"},
	}
	for _, tt := range tests {
		id := tt.id
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("With(%q) did not panic, want a panic", id)
				}
			}()
			tenant.With(context.Background(), id)
		})
	}
}

func TestFromWithoutTenant(t *testing.T) {
	type otherKey struct{}
	tests := []struct {
		name string
		ctx  context.Context
	}{
		{"background", context.Background()},
		{"unrelated values", context.WithValue(context.Background(), otherKey{}, tenant.ID("acme"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tenant.From(tt.ctx)
			if !errors.Is(err, tenant.ErrNoTenant) {
				t.Errorf("From: err = %v, want %v", err, tenant.ErrNoTenant)
			}
			if got != "" {
				t.Errorf("From: id = %q, want empty", got)
			}
		})
	}
}

func TestWithPlatform(t *testing.T) {
	got, err := tenant.From(tenant.WithPlatform(context.Background()))
	if err != nil {
		t.Fatalf("From(WithPlatform): %v", err)
	}
	if got != tenant.Platform {
		t.Errorf("From(WithPlatform) = %q, want %q", got, tenant.Platform)
	}

	// The platform scope replaces a tenant scope rather than adding to it.
	got, _ = tenant.From(tenant.WithPlatform(tenant.With(context.Background(), "acme")))
	if got != tenant.Platform {
		t.Errorf("From(WithPlatform(With(acme))) = %q, want %q", got, tenant.Platform)
	}
}
