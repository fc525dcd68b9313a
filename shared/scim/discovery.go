package scim

import "net/http"

// The discovery documents of RFC 7644 section 4: what this service
// provider supports, the schemas of its users and its one resource type.

type supported struct {
	Supported bool `json:"supported"`
}

type serviceProviderConfig struct {
	Schemas          []string   `json:"schemas"`
	DocumentationURI string     `json:"documentationUri"`
	Patch            supported  `json:"patch"`
	Bulk             bulk       `json:"bulk"`
	Filter           filter     `json:"filter"`
	ChangePassword   supported  `json:"changePassword"`
	Sort             supported  `json:"sort"`
	ETag             supported  `json:"etag"`
	AuthSchemes      []authInfo `json:"authenticationSchemes"`
	Meta             meta       `json:"meta"`
}

type bulk struct {
	Supported      bool `json:"supported"`
	MaxOperations  int  `json:"maxOperations"`
	MaxPayloadSize int  `json:"maxPayloadSize"`
}

type filter struct {
	Supported  bool `json:"supported"`
	MaxResults int  `json:"maxResults"`
}

type authInfo struct {
	Type        string `json:"type"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Primary     bool   `json:"primary"`
}

// DocumentationURI is where the SCIM set-up is described.
const DocumentationURI = "https://github.com/alto/alto/blob/main/docs/SSO.md"

func (s *Server) serviceProviderConfig(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, serviceProviderConfig{
		Schemas:          []string{ConfigSchema},
		DocumentationURI: DocumentationURI,
		Patch:            supported{true},
		Bulk:             bulk{},
		Filter:           filter{Supported: true, MaxResults: MaxResults},
		AuthSchemes: []authInfo{{Type: "oauthbearertoken", Name: "Bearer token",
			Description: "The tenant's SCIM token, made (and shown once) by POST /v1/settings/scim-token.", Primary: true}},
		Meta: meta{ResourceType: "ServiceProviderConfig", Location: s.location(r, "/ServiceProviderConfig")},
	})
	return nil
}

type attribute struct {
	Name          string      `json:"name"`
	Type          string      `json:"type"`
	MultiValued   bool        `json:"multiValued"`
	Description   string      `json:"description"`
	Required      bool        `json:"required"`
	CaseExact     bool        `json:"caseExact"`
	Mutability    string      `json:"mutability"`
	Returned      string      `json:"returned"`
	Uniqueness    string      `json:"uniqueness"`
	Canonical     []string    `json:"canonicalValues,omitempty"`
	SubAttributes []attribute `json:"subAttributes,omitempty"`
}

// attr is a single-valued, optional, read-write string attribute returned
// by default; callers change what differs.
func attr(name, description string) attribute {
	return attribute{Name: name, Type: "string", Description: description, Mutability: "readWrite",
		Returned: "default", Uniqueness: "none"}
}

type schema struct {
	Schemas     []string    `json:"schemas"`
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Attributes  []attribute `json:"attributes"`
	Meta        meta        `json:"meta"`
}

func userSchemas() []schema {
	userName := attr("userName", "Unique identifier of the user in the tenant, case-insensitive; a token's sub matches it when no externalId does.")
	userName.Required, userName.Uniqueness = true, "server"
	externalID := attr("externalId", "The identity provider's identifier of the user; a token's sub is matched against it first.")
	externalID.CaseExact, externalID.Uniqueness = true, "server"
	name := attr("name", "The user's name.")
	name.Type = "complex"
	name.SubAttributes = []attribute{attr("formatted", "The full name."), attr("givenName", "The given name."),
		attr("familyName", "The family name."), attr("middleName", "The middle name.")}
	emails := attr("emails", "E-mail addresses; owners' and admins' primary addresses receive notices.")
	emails.Type, emails.MultiValued = "complex", true
	primary := attr("primary", "Whether this is the primary address.")
	primary.Type = "boolean"
	emails.SubAttributes = []attribute{attr("value", "The address."), attr("type", "work, home or other."), primary}
	active := attr("active", "false deprovisions the user: their tokens are refused at once.")
	active.Type = "boolean"
	role := attr("role", "The user's role in the tenant; without it the token's role claim applies.")
	role.Canonical = []string{"owner", "admin", "manager", "rep"}
	return []schema{
		{Schemas: []string{SchemaSchema}, ID: UserSchema, Name: "User", Description: "User Account (the attributes Alto keeps)",
			Attributes: []attribute{userName, externalID, attr("displayName", "The name to show."), name, emails, active},
			Meta:       meta{ResourceType: "Schema"}},
		{Schemas: []string{SchemaSchema}, ID: ExtensionSchema, Name: "AltoUser", Description: "Alto's role and scope of a user",
			Attributes: []attribute{role, attr("branch", "The branch a manager's scope covers."), attr("dept", "The department a manager's scope covers.")},
			Meta:       meta{ResourceType: "Schema"}},
	}
}

func (s *Server) schemas(w http.ResponseWriter, r *http.Request) error {
	list := userSchemas()
	out := listResponse{Schemas: []string{ListSchema}, TotalResults: len(list), StartIndex: 1, ItemsPerPage: len(list)}
	for _, sc := range list {
		out.Resources = append(out.Resources, sc)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type schemaExtension struct {
	Schema   string `json:"schema"`
	Required bool   `json:"required"`
}

type resourceType struct {
	Schemas          []string          `json:"schemas"`
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Endpoint         string            `json:"endpoint"`
	Description      string            `json:"description"`
	Schema           string            `json:"schema"`
	SchemaExtensions []schemaExtension `json:"schemaExtensions"`
	Meta             meta              `json:"meta"`
}

func (s *Server) resourceTypes(w http.ResponseWriter, r *http.Request) error {
	user := resourceType{Schemas: []string{ResourceTypeSchema}, ID: "User", Name: "User", Endpoint: "/Users",
		Description: "A user of the tenant", Schema: UserSchema,
		SchemaExtensions: []schemaExtension{{Schema: ExtensionSchema, Required: false}},
		Meta:             meta{ResourceType: "ResourceType"}}
	writeJSON(w, http.StatusOK, listResponse{Schemas: []string{ListSchema}, TotalResults: 1, StartIndex: 1,
		ItemsPerPage: 1, Resources: []any{user}})
	return nil
}
