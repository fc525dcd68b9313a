// Package alto holds what belongs to the product as a whole rather than to
// one capability: the published API description.
package alto

import _ "embed"

// OpenAPI is the OpenAPI 3 document of the HTTP API (docs/openapi.yaml).
//
//go:embed docs/openapi.yaml
var OpenAPI []byte
