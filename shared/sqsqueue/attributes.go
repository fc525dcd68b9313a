package sqsqueue

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/alto/alto/shared/queue"
)

// SQS's limits on message attributes.
const (
	maxAttributes = 10
	maxNameLen    = 256
)

// Escaped attributes: the name is escapedName followed by the unpadded
// base64url of the name, the type is escapedType, and the value is "v"
// followed by the unpadded base64url of the value (never empty).
const (
	escapedName = "alto-esc-"
	escapedType = "String.alto-escaped"
	stringType  = "String"
)

// EncodeAttributes returns attrs as SQS message attributes. An attribute
// whose name SQS accepts ([A-Za-z0-9_.-], not starting with "AWS." or
// "Amazon." or with the escape prefix, no leading or trailing "." or "..")
// and whose value is non-empty text SQS accepts travels as a plain String
// attribute; any other is escaped, base64url in a String attribute of type
// "String.alto-escaped". Returns an error wrapping queue.ErrInvalid if there
// are more than 10 attributes (SQS's limit) or an escaped name would exceed
// 256 bytes.
func EncodeAttributes(attrs map[string]string) (map[string]types.MessageAttributeValue, error) {
	if len(attrs) == 0 {
		return nil, nil
	}
	if len(attrs) > maxAttributes {
		return nil, fmt.Errorf("%d attributes, want at most %d (SQS's limit): %w", len(attrs), maxAttributes, queue.ErrInvalid)
	}
	out := make(map[string]types.MessageAttributeValue, len(attrs))
	for name, value := range attrs {
		if plainName(name) && value != "" && checkText("value", value) == nil {
			out[name] = types.MessageAttributeValue{DataType: aws.String(stringType), StringValue: aws.String(value)}
			continue
		}
		escaped := escapedName + base64.RawURLEncoding.EncodeToString([]byte(name))
		if len(escaped) > maxNameLen {
			return nil, fmt.Errorf("attribute name of %d bytes is %d escaped, want at most %d: %w", len(name), len(escaped), maxNameLen, queue.ErrInvalid)
		}
		out[escaped] = types.MessageAttributeValue{
			DataType:    aws.String(escapedType),
			StringValue: aws.String("v" + base64.RawURLEncoding.EncodeToString([]byte(value))),
		}
	}
	return out, nil
}

// DecodeAttributes returns the attributes EncodeAttributes encoded.
// Attributes of other producers keep their names, with their string value
// (or binary value as bytes). Returns an error for a malformed escaped
// attribute.
func DecodeAttributes(attrs map[string]types.MessageAttributeValue) (map[string]string, error) {
	if len(attrs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(attrs))
	for name, v := range attrs {
		value := aws.ToString(v.StringValue)
		if v.StringValue == nil {
			value = string(v.BinaryValue)
		}
		n, val, err := decode(name, aws.ToString(v.DataType), value)
		if err != nil {
			return nil, err
		}
		out[n] = val
	}
	return out, nil
}

// EventAttributes returns the attributes of a message as Lambda's SQS event
// source delivers it, decoded as DecodeAttributes does.
func EventAttributes(m events.SQSMessage) (map[string]string, error) {
	if len(m.MessageAttributes) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(m.MessageAttributes))
	for name, v := range m.MessageAttributes {
		value := aws.ToString(v.StringValue)
		if v.StringValue == nil {
			value = string(v.BinaryValue)
		}
		n, val, err := decode(name, v.DataType, value)
		if err != nil {
			return nil, err
		}
		out[n] = val
	}
	return out, nil
}

func decode(name, dataType, value string) (string, string, error) {
	if dataType != escapedType {
		return name, value, nil
	}
	rawName, ok1 := strings.CutPrefix(name, escapedName)
	rawValue, ok2 := strings.CutPrefix(value, "v")
	n, err1 := base64.RawURLEncoding.DecodeString(rawName)
	v, err2 := base64.RawURLEncoding.DecodeString(rawValue)
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return "", "", fmt.Errorf("sqsqueue: malformed escaped attribute")
	}
	return string(n), string(v), nil
}

// plainName reports whether SQS accepts name as an attribute name and it
// cannot be mistaken for an escaped one.
func plainName(name string) bool {
	if name == "" || len(name) > maxNameLen || name[0] == '.' || name[len(name)-1] == '.' ||
		strings.Contains(name, "..") || strings.HasPrefix(name, escapedName) {
		return false
	}
	lower := strings.ToLower(name)
	if strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon.") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// checkText returns an error wrapping queue.ErrInvalid unless s is UTF-8
// made of the characters SQS accepts in a message: tab, line feed,
// carriage return, and U+0020 to U+10FFFF but for surrogates, U+FFFE and
// U+FFFF.
func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not UTF-8: %w", what, queue.ErrInvalid)
	}
	for i, r := range s {
		if r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xd7ff) || (r >= 0xe000 && r <= 0xfffd) || r >= 0x10000 {
			continue
		}
		return fmt.Errorf("%s has character U+%04X at byte %d, which SQS refuses: %w", what, r, i, queue.ErrInvalid)
	}
	return nil
}

// size is the size of a message as SQS counts it against its limit: the
// body, and each attribute's name, data type and value.
func size(body []byte, attrs map[string]types.MessageAttributeValue) int {
	n := len(body)
	for name, v := range attrs {
		n += len(name) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue)) + len(v.BinaryValue)
	}
	return n
}
