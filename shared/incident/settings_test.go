package incident_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/alto/alto/shared/incident"
	"github.com/alto/alto/shared/tenant"
	"github.com/alto/alto/shared/valid"
)

func TestNotificationSettings(t *testing.T) {
	e := newEnv(t)
	ctx := tenant.With(context.Background(), "acme")
	got, err := e.svc.NotificationSettings(ctx)
	if err != nil || len(got.Emails) != 0 || got.WebhookSecretSet {
		t.Fatalf("settings before any = %+v, %v; want empty", got, err)
	}

	set, secret, err := e.svc.SetNotificationSettings(ctx, "owner-1", incident.SettingsInput{
		Emails: []string{"Owner@ACME.example", " owner@acme.EXAMPLE ", "sec@acme.example"}, WebhookURL: "https://hooks.acme.example/alto"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, incident.SecretPrefix) || len(secret) < 40 {
		t.Errorf("secret = %q, want a fresh whsec_ secret", secret)
	}
	if want := []string{"Owner@acme.example", "owner@acme.example", "sec@acme.example"}; !slices.Equal(set.Emails, want) {
		t.Errorf("emails = %v, want %v (domains lower-cased, repeats dropped)", set.Emails, want)
	}
	if !set.WebhookSecretSet {
		t.Error("webhookSecretSet = false after a secret was issued")
	}

	// Setting again keeps the secret (not shown); rotating makes a new one.
	_, again, err := e.svc.SetNotificationSettings(ctx, "owner-1", incident.SettingsInput{
		Emails: []string{"owner@acme.example"}, WebhookURL: "https://hooks.acme.example/v2"})
	if err != nil || again != "" {
		t.Errorf("second set showed secret %q (%v), want none", again, err)
	}
	_, rotated, err := e.svc.SetNotificationSettings(ctx, "owner-1", incident.SettingsInput{
		Emails: []string{"owner@acme.example"}, WebhookURL: "https://hooks.acme.example/v2", RotateSecret: true})
	if err != nil || rotated == "" || rotated == secret {
		t.Errorf("rotation gave %q (%v), want a new secret", rotated, err)
	}
	other, err := e.svc.NotificationSettings(tenant.With(context.Background(), "globex"))
	if err != nil || len(other.Emails) != 0 {
		t.Errorf("another tenant sees %+v, %v; want nothing", other, err)
	}
	// Removing the webhook drops its secret.
	cleared, _, err := e.svc.SetNotificationSettings(ctx, "owner-1", incident.SettingsInput{Emails: []string{"owner@acme.example"}})
	if err != nil || cleared.WebhookSecretSet || cleared.WebhookURL != "" {
		t.Errorf("cleared = %+v, %v; want no webhook and no secret", cleared, err)
	}
}

func TestNotificationSettingsValidate(t *testing.T) {
	e := newEnv(t)
	ctx := tenant.With(context.Background(), "acme")
	many := make([]string, 21)
	for i := range many {
		many[i] = fmt.Sprintf("u%d@acme.example", i)
	}
	tests := []struct {
		name  string
		in    incident.SettingsInput
		field string
	}{
		{"not an address", incident.SettingsInput{Emails: []string{"owner"}}, "emails[0]"},
		{"display name", incident.SettingsInput{Emails: []string{"a@acme.example", "Jane <j@acme.example>"}}, "emails[1]"},
		{"too many", incident.SettingsInput{Emails: many}, "emails"},
		{"http webhook", incident.SettingsInput{WebhookURL: "http://hooks.acme.example/"}, "webhookUrl"},
		{"internal webhook", incident.SettingsInput{WebhookURL: "https://169.254.169.254/latest"}, "webhookUrl"},
		{"rotate without webhook", incident.SettingsInput{RotateSecret: true}, "rotateSecret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.svc.SetNotificationSettings(ctx, "owner-1", tt.in)
			var errs valid.Errors
			if !errors.As(err, &errs) || errs[0].Field != tt.field {
				t.Errorf("Set = %v, want a field error on %s", err, tt.field)
			}
		})
	}
	if got := e.entries(t, "acme", "settings.notifications"); len(got) != 0 {
		t.Errorf("refused settings were audited %d times, want 0", len(got))
	}
}
