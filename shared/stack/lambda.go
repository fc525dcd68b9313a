package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
)

// errUnknownEvent is HandleIngest's error for an event of another source.
var errUnknownEvent = errors.New("stack: ingest: not an SQS batch or an S3 event")

// HandleIngest is the handler of functions/ingest, which two sources
// invoke: the ingress queue's event source mapping with an SQS batch
// (stored as Ingest.HandleSQS does, poison messages dead-lettered, the
// messages to retry reported as batch item failures) and the imports
// bucket with an S3 ObjectCreated event (each upload to an import starts
// its parse, as Imports.HandleS3 does; an error makes Lambda retry the
// asynchronous event). Records of neither source, or no "Records" at all,
// are an error wrapping errUnknownEvent; an empty list is an empty batch.
func (s *Stack) HandleIngest(ctx context.Context, raw json.RawMessage) (events.SQSEventResponse, error) {
	var probe struct {
		Records *[]struct {
			Source string `json:"eventSource"`
		}
	}
	if err := json.Unmarshal(raw, &probe); err != nil || probe.Records == nil {
		return events.SQSEventResponse{}, fmt.Errorf("%w: no records", errUnknownEvent)
	}
	source := ""
	for _, r := range *probe.Records {
		if source != "" && r.Source != source {
			return events.SQSEventResponse{}, fmt.Errorf("%w: records of %q and %q", errUnknownEvent, source, r.Source)
		}
		source = r.Source
	}
	switch source {
	case "", "aws:sqs":
		var ev events.SQSEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return events.SQSEventResponse{}, fmt.Errorf("stack: ingest: SQS event: %w", err)
		}
		return s.Ingest.HandleSQS(ctx, ev)
	case "aws:s3":
		var ev events.S3Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			return events.SQSEventResponse{}, fmt.Errorf("stack: ingest: S3 event: %w", err)
		}
		return events.SQSEventResponse{}, s.Imports.HandleS3(ctx, ev)
	default:
		return events.SQSEventResponse{}, fmt.Errorf("%w: source %q", errUnknownEvent, source)
	}
}

// HandleUploads handles a batch of the uploads queue (make run-aws), each
// message an S3 event notification of the imports bucket, as
// Imports.HandleS3 does. A message that is no S3 event (such as S3's test
// event) is dropped; one whose handling fails is reported for a retry.
func (s *Stack) HandleUploads(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	var res events.SQSEventResponse
	for _, m := range batch.Records {
		var ev events.S3Event
		if err := json.Unmarshal([]byte(m.Body), &ev); err != nil {
			s.Logger.WarnContext(ctx, "uploads: not an S3 event, dropped", "message_id", m.MessageId)
			continue
		}
		if err := s.Imports.HandleS3(ctx, ev); err != nil {
			s.Logger.WarnContext(ctx, "uploads: S3 event will be retried", "message_id", m.MessageId, "err", err.Error())
			res.BatchItemFailures = append(res.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return res, nil
}
