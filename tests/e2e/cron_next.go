// cron-next: what Argo Workflows v3.7.18 makes of a CronWorkflow's schedule, with the cron library
// it pins (github.com/robfig/cron/v3 v3.0.1), for the schedule differential test (cron_schedule.rs).
//
// Argo judges a schedule twice: its validation (workflow/validate CronWorkflow) parses the bare
// expression with cron.ParseStandard and the zone with time.LoadLocation; its cron controller
// (workflow/cron) then schedules "CRON_TZ=<zone> <expression>" (the bare expression without a
// zone) on cron.New(), whose default parser is ParseStandard's, and asks Schedule.Next for each run.
// The controller's process runs in UTC, so a schedule without a zone is read in UTC.
//
//	cron-next < CASES.json   one result per case: {"error": "..."} or {"next": [up to 5 RFC 3339 times]}
//	cron-next --versions     the modules it was built with
//
// CASES.json is [{"cron": "0 9 * * *", "zone": "Europe/Berlin" or "", "start": "RFC 3339 time"}].
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/robfig/cron/v3"

	// As Argo's workflow-controller (cmd/workflow-controller/main.go): zones resolve without a
	// system database too.
	_ "time/tzdata"
)

type testCase struct {
	Cron  string `json:"cron"`
	Zone  string `json:"zone"`
	Start string `json:"start"`
}

type result struct {
	Next  []string `json:"next,omitempty"`
	Error string   `json:"error,omitempty"`
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--versions" {
		info, _ := debug.ReadBuildInfo()
		fmt.Println("go", runtime.Version())
		for _, dep := range info.Deps {
			fmt.Println(dep.Path, dep.Version)
		}
		return
	}
	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, "stdin is not a JSON array of cases:", err)
		os.Exit(2)
	}
	out := make([]result, 0, len(cases))
	for _, c := range cases {
		out = append(out, run(c))
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(1)
	}
}

func run(c testCase) result {
	start, err := time.Parse(time.RFC3339Nano, c.Start)
	if err != nil {
		fmt.Fprintln(os.Stderr, "a case's start is not an RFC 3339 time:", err)
		os.Exit(2)
	}
	// Argo's validation.
	if _, err := cron.ParseStandard(c.Cron); err != nil {
		return result{Error: "cron: " + err.Error()}
	}
	spec := c.Cron
	if c.Zone != "" {
		if _, err := time.LoadLocation(c.Zone); err != nil {
			return result{Error: "timezone: " + err.Error()}
		}
		spec = "CRON_TZ=" + c.Zone + " " + c.Cron
	}
	// Argo's cron controller.
	schedule, err := cron.ParseStandard(spec)
	if err != nil {
		return result{Error: "scheduling: " + err.Error()}
	}
	next := []string{}
	t := start.UTC()
	for len(next) < 5 {
		t = schedule.Next(t)
		if t.IsZero() {
			break
		}
		next = append(next, t.UTC().Format(time.RFC3339))
	}
	return result{Next: next}
}
