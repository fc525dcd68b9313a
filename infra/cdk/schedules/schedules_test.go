package schedules_test

import (
	"reflect"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/alto/alto/infra/cdk/cdktest"
	"github.com/alto/alto/infra/cdk/schedules"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

func build(t *testing.T, names ...string) (assertions.Template, schedules.Schedules, map[string]awslambda.IFunction) {
	t.Helper()
	stack := cdktest.Stack(t)
	assets := cdktest.Assets(t, names...)
	fns := map[string]awslambda.IFunction{}
	for _, n := range names {
		fns[n] = awslambda.NewFunction(stack, jsii.String(n), &awslambda.FunctionProps{
			Runtime: awslambda.Runtime_PROVIDED_AL2023(), Handler: jsii.String("bootstrap"),
			Code: awslambda.Code_FromAsset(jsii.String(assets+"/"+n), nil),
		})
	}
	s := schedules.NewSchedules(stack, "Schedules", &schedules.Props{Functions: fns})
	return cdktest.Template(t, stack), s, fns
}

func TestRET08_SweepHourlyAndSLAEvery15Minutes(t *testing.T) {
	tmpl, s, fns := build(t, "purge", "incident")
	for name, tc := range map[string]struct{ rate, target string }{
		"sweep": {"rate(1 hour)", "purge"},
		"sla":   {"rate(15 minutes)", "incident"},
	} {
		t.Run(name, func(t *testing.T) {
			rule, ok := s.Rules[name]
			if !ok {
				t.Fatalf("no rule %s", name)
			}
			r := cdktest.Resources(t, tmpl)[cdktest.ID(t, rule)]
			if got := r.Properties["ScheduleExpression"]; got != tc.rate {
				t.Errorf("ScheduleExpression: got %v, want %s", got, tc.rate)
			}
			if got := r.Properties["State"]; got != "ENABLED" {
				t.Errorf("State: got %v, want ENABLED", got)
			}
			targets, _ := r.Properties["Targets"].([]interface{})
			if len(targets) != 1 {
				t.Fatalf("targets: got %d, want 1", len(targets))
			}
			tgt := targets[0].(map[string]interface{})
			if want := map[string]interface{}{"Fn::GetAtt": []interface{}{cdktest.ID(t, fns[tc.target]), "Arn"}}; !reflect.DeepEqual(tgt["Arn"], want) {
				t.Errorf("target: got %v, want %v", tgt["Arn"], want)
			}
			if got := tgt["RetryPolicy"]; got == nil {
				t.Errorf("RetryPolicy: got none, want one")
			}
		})
	}
	cdktest.Count(t, tmpl, "AWS::Lambda::Permission", 2)
	if len(s.Waiting) != 0 {
		t.Errorf("Waiting: got %v, want none", s.Waiting)
	}
}

func TestSchedules_WaitForTheirFunction(t *testing.T) {
	tmpl, s, _ := build(t, "purge")
	cdktest.Count(t, tmpl, "AWS::Events::Rule", 1)
	if want := map[string]string{"sla": "incident"}; !reflect.DeepEqual(s.Waiting, want) {
		t.Errorf("Waiting: got %v, want %v", s.Waiting, want)
	}
	none, s, _ := build(t)
	cdktest.Count(t, none, "AWS::Events::Rule", 0)
	if len(s.Waiting) != 2 {
		t.Errorf("Waiting: got %v, want both schedules", s.Waiting)
	}
}
