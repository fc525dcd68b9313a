// Package schedules defines Alto's EventBridge schedules: the hourly
// retention `sweep` (RET-08) and the `sla` timers every 15 minutes (INC-01..03,
// OPS-04). A schedule exists only when its target function does.
package schedules

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Schedule is a periodic invocation of a function.
type Schedule struct {
	Name   string
	Every  time.Duration // whole minutes
	Target string        // the function's name (functions/<Target>)
	Doc    string
}

// Plan lists Alto's schedules; the local runtime ticks the same ones.
var Plan = []Schedule{
	{Name: "sweep", Every: time.Hour, Target: "purge", Doc: "retention sweep, purge progress and subject-request deadlines"},
	{Name: "sla", Every: 15 * time.Minute, Target: "incident", Doc: "incident notice, update and RCA timers; detectors"},
}

// Props configures the schedules.
type Props struct {
	// Functions are the functions that exist, by name; a schedule whose
	// target is missing is not created and is listed in Schedules.Waiting.
	Functions map[string]awslambda.IFunction
}

// Schedules holds the rules created.
type Schedules struct {
	constructs.Construct
	Rules map[string]awsevents.Rule // by schedule name
	// Waiting maps each schedule not created to the function it waits for.
	Waiting map[string]string
}

// NewSchedules defines the rules of Plan under scope/id. A missed tick is
// retried twice within one period; after that the next tick does the work
// (every target is idempotent and resumes from its checkpoint), and the
// function's error alarm has already fired.
func NewSchedules(scope constructs.Construct, id string, props *Props) Schedules {
	c := constructs.NewConstruct(scope, jsii.String(id))
	s := Schedules{Construct: c, Rules: map[string]awsevents.Rule{}, Waiting: map[string]string{}}
	for _, p := range Plan {
		fn, ok := props.Functions[p.Target]
		if !ok {
			s.Waiting[p.Name] = p.Target
			continue
		}
		if p.Every < time.Minute || p.Every%time.Minute != 0 {
			panic(fmt.Sprintf("schedules: %s every %v, want whole minutes", p.Name, p.Every))
		}
		s.Rules[p.Name] = awsevents.NewRule(c, jsii.String(p.Name), &awsevents.RuleProps{
			Description: jsii.String(fmt.Sprintf("Alto %s every %v: %s", p.Name, p.Every, p.Doc)),
			Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(p.Every.Minutes()))),
			Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
				RetryAttempts: jsii.Number(2),
				MaxEventAge:   awscdk.Duration_Minutes(jsii.Number(p.Every.Minutes())),
			})},
		})
	}
	return s
}
