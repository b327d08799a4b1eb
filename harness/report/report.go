// Package report holds the result of one run (an arch, a kernel, a patch
// set) and renders it: JSON for machines, a table for people, an exit code
// for scripts.
//
// Runs on the host.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"dirtygate/vmm/oracle"
	"dirtygate/vmm/record"
)

// Verdicts: a run's verdict is a record.Status, never Skip.
const (
	Pass  = record.Pass
	Fail  = record.Fail
	Error = record.Error
)

// Report is one run. Every field is documented in the README.
type Report struct {
	Arch    string        `json:"arch"`
	Kernel  Kernel        `json:"kernel"`
	Patches []string      `json:"patches"` // names, in order; empty = baseline
	Verdict record.Status `json:"verdict"` // pass | fail | error
	// OnlyKnown: the run failed, but only where its kernel source is
	// known to fail with exactly this signature (kernels/known/).
	OnlyKnown bool `json:"only_known,omitempty"`
	// Error says why the run could not decide (verdict error).
	Error string `json:"error,omitempty"`
	// Cause says where it stopped (with Error; nil otherwise).
	Cause *Cause `json:"cause,omitempty"`
	// ScenarioUndecided: the run itself went through and the error is a
	// scenario's own (the others decided and can be compared).
	ScenarioUndecided bool    `json:"scenario_undecided,omitempty"`
	Accel             string  `json:"accel,omitempty"` // tcg or kvm, and why
	Timings           Timings `json:"timings"`
	ConsoleLog        string  `json:"console_log,omitempty"`
	QEMUCmdline       string  `json:"qemu_cmdline,omitempty"`
	// Firmware names the image QEMU booted with (-bios) and why, where
	// the arch corrects QEMU's own (arches.Boot.Firmware).
	Firmware string        `json:"firmware,omitempty"`
	Agent    *record.Hello `json:"agent,omitempty"` // what the agent saw
	// Transport, for executor runs, counts the calls made over the
	// console and the damaged frames that had to be resent.
	Transport     string `json:"transport,omitempty"`
	EmulationNote string `json:"emulation_note"`
	// AliasModel says whether the cache model (--alias-model) ran, and
	// what it saw; "on" is false for every other run.
	AliasModel AliasModel `json:"alias_model"`
	Problems   []string   `json:"problems,omitempty"` // recovered console damage
	// Artifacts are known warnings the emulated machine causes at boot,
	// before the agent starts (arches/), with the reason; not findings.
	Artifacts []string          `json:"boot_artifacts,omitempty"`
	Scenarios []record.Scenario `json:"scenarios"`
}

// AliasModel is what the virtually indexed cache model (harness/aliasmodel)
// saw in a run with --alias-model.
type AliasModel struct {
	On     bool   `json:"on"`
	Output string `json:"output,omitempty"` // the plugin's own file
	Line   int    `json:"line_bytes,omitempty"`
	Alias  int    `json:"alias_boundary,omitempty"`
	// Stats: the model's counts (reads, writes, stale, flushes, purges,
	// flush_alls, promoted, stale_writebacks, dirty_purged); Marks: the
	// kernel's announcements (applied, torn) and the plugin's own (events
	// printed, dropped, io accesses skipped).
	Stats map[string]uint64 `json:"stats,omitempty"`
	Marks map[string]uint64 `json:"marks,omitempty"`
	// BootStale counts stale reads before the first scenario.
	BootStale int             `json:"boot_stale,omitempty"`
	Scenarios []AliasScenario `json:"scenarios,omitempty"`
	Problems  []string        `json:"problems,omitempty"`
}

// AliasScenario is one scenario as the cache model saw it: the VMM's
// reads of its log, how many read a stale word (each an alias finding on
// the scenario), and stale reads of anything else meanwhile (counted, not
// findings).
type AliasScenario struct {
	Name          string `json:"name"`
	LogReads      int    `json:"log_reads"`       // the VMM's reads of its log (ReadMem, SwapWords calls)
	StaleLogReads int    `json:"stale_log_reads"` // stale loads of log words in them
	// KernelStaleLogReads: the kernel read a log word stale, the VMM's
	// newer write to it being in the VMM's colour (also alias findings).
	KernelStaleLogReads int `json:"kernel_stale_log_reads"`
	OtherStale          int `json:"other_stale"`
}

// Summary is one line for the text report.
func (a AliasModel) Summary() string {
	if !a.On {
		return "off"
	}
	logs, stale, kstale, other := 0, 0, 0, 0
	for _, s := range a.Scenarios {
		logs += s.LogReads
		stale += s.StaleLogReads
		kstale += s.KernelStaleLogReads
		other += s.OtherStale
	}
	return fmt.Sprintf("on (PA-RISC VIPT data cache, %d-byte lines, alias boundary %#x): %d reads of the log by the VMM (calls), %d stale word loads in them; %d stale kernel loads of a log word the VMM wrote; %d other stale loads during scenarios, %d at boot; %d flushes/purges announced by the kernel (%d torn)",
		a.Line, a.Alias, logs, stale, kstale, other, a.BootStale, a.Marks["applied"], a.Marks["torn"])
}

// Kernel identifies what was booted.
type Kernel struct {
	Name       string `json:"name,omitempty"` // the source's short name: "6.1", "6.12", "tree"
	Source     string `json:"source"`
	Rev        string `json:"rev,omitempty"` // the commit, for a revision of a git tree (DIR@REV)
	Version    string `json:"version,omitempty"`
	ConfigHash string `json:"config_hash,omitempty"`
	Config     string `json:"config,omitempty"`    // path of the .config
	Patchfile  string `json:"patchfile,omitempty"` // path of the applied patches
	Cached     bool   `json:"cached"`
	Debug      bool   `json:"debug,omitempty"` // built with --debug-kernel
	// BuildFix is the source's build fix for the arch (kernels/fixes/),
	// applied before the patches, on the base and the candidate alike.
	BuildFix string `json:"build_fix,omitempty"`
}

// Stage is where a run that could not decide stopped.
type Stage string

const (
	StageSetup     Stage = "setup"     // the host: the kernel source or a patch not found, an output directory, QEMU missing, the agent's or executor's build
	StageBuild     Stage = "build"     // the kernel build (kbuild): toolchain, unpacking, applying the patches, the configuration, the compile
	StageBoot      Stage = "boot"      // the VM: did not start or end, or the kernel crashed before the agent finished
	StageTransport Stage = "transport" // the records or the executor's link: lost, unreadable, a call that never came back
	StageAgent     Stage = "agent"     // the agent or a scenario: no hello, a scenario could not decide, nothing ran
	StageOracle    Stage = "oracle"    // the host's re-run of the oracle disagrees with the guest's
)

// Cause is where a run stopped: the stage and, for a kernel build, the
// build's own step (kbuild.Error.Stage: toolchain, source, patch, config,
// compile).
type Cause struct {
	Stage Stage  `json:"stage"`
	Step  string `json:"step,omitempty"`
}

// SetError says the run could not decide, why and where.
func (r *Report) SetError(stage Stage, step, msg string) {
	r.Error, r.Cause = msg, &Cause{Stage: stage, Step: step}
}

// CompileFailed is true when the run stopped because its kernel did not
// compile: against a candidate, a finding (the patch breaks the build),
// not an infrastructure error.
func (r *Report) CompileFailed() bool {
	return r.Cause != nil && r.Cause.Stage == StageBuild && r.Cause.Step == "compile"
}

// Timings in seconds.
type Timings struct {
	Build float64 `json:"build_s"`
	Boot  float64 `json:"boot_s"`  // QEMU start to the agent's first record
	Agent float64 `json:"agent_s"` // the agent's own run time
	Total float64 `json:"total_s"`
	// VMMaxRSS is QEMU's peak resident memory in MiB.
	VMMaxRSS float64 `json:"vm_max_rss_mib,omitempty"`
}

// KernelHealth is the synthetic scenario that carries console splats.
const KernelHealth = "kernel-health"

// KernelBuild is the one scenario of a build-only run: the kernel with
// its patches compiled; nothing was booted.
const KernelBuild = "kernel-build"

// AddSplat records a kernel splat as a finding: it fails the run.
func (r *Report) AddSplat(title, quote string) {
	for i := range r.Scenarios {
		if r.Scenarios[i].Name == KernelHealth {
			s := &r.Scenarios[i]
			s.Status = record.Fail
			s.Findings = append(s.Findings, oracle.Finding{Kind: oracle.Splat, Detail: "splat: " + title})
			s.Notes = append(s.Notes, quote)
			return
		}
	}
	r.Scenarios = append(r.Scenarios, record.Scenario{Name: KernelHealth, Status: record.Fail,
		Findings: []oracle.Finding{{Kind: oracle.Splat, Detail: "splat: " + title}}, Notes: []string{quote}})
}

// Decide sets the verdict from the scenarios, unless an error was set.
func (r *Report) Decide() {
	if r.Error != "" && r.Error != r.scenarioError() {
		// A run-level error (build, boot, lost records) set by the caller.
		r.Verdict, r.ScenarioUndecided = Error, false
		return
	}
	r.Error, r.Cause, r.ScenarioUndecided = "", nil, false
	if len(r.Scenarios) == 0 {
		r.Verdict = Error
		r.SetError(StageAgent, "", "no scenario ran")
		return
	}
	r.Verdict, r.OnlyKnown = Pass, false
	decided, known, failed := 0, 0, 0
	for _, s := range r.Scenarios {
		switch s.Status {
		case record.Error:
			r.Verdict, r.ScenarioUndecided = Error, true
			r.SetError(StageAgent, "", r.scenarioError())
			return
		case record.Fail:
			r.Verdict = Fail
			failed++
			if s.Known != "" {
				known++
			}
			decided++
		case record.Pass:
			if s.Name != KernelHealth {
				decided++
			}
		}
	}
	if decided == 0 {
		// Every scenario skipped: nothing was checked, which is not a pass.
		r.Verdict = Error
		r.SetError(StageAgent, "", fmt.Sprintf("no scenario decided anything: all %d skipped", len(r.Scenarios)))
		return
	}
	r.OnlyKnown = failed > 0 && known == failed
}

// scenarioError is what Decide says of the first scenario that could not
// decide, "" when none: Decide tells its own message from a caller's.
func (r *Report) scenarioError() string {
	for _, s := range r.Scenarios {
		if s.Status == record.Error {
			return fmt.Sprintf("scenario %s could not decide: %s", s.Name, firstLine(s.Error))
		}
	}
	return ""
}

// ExitCode maps a verdict to dirtygate's exit status.
func ExitCode(verdict record.Status) int {
	switch verdict {
	case Pass:
		return 0
	case Fail:
		return 1
	}
	return 2
}

// ExitKnown is the exit status of a run that failed only where its kernel
// is known to fail (kernels/known/): not a pass, not a new finding.
const ExitKnown = 3

// ExitCode is the run's exit status: ExitCode of its verdict, or
// ExitKnown when every failure is a known one.
func (r *Report) ExitCode() int {
	if r.Verdict == Fail && r.OnlyKnown {
		return ExitKnown
	}
	return ExitCode(r.Verdict)
}

// ReadJSON reads what --json wrote: one report or an array of them. The
// verdict is decided again from the scenarios, so an edited file cannot
// keep a stale verdict.
func ReadJSON(path string) ([]*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rs []*Report
	if err := json.Unmarshal(b, &rs); err != nil {
		var r Report
		if err2 := json.Unmarshal(b, &r); err2 != nil {
			return nil, fmt.Errorf("%s: neither a report nor an array of reports: %v", path, err2)
		}
		rs = []*Report{&r}
	}
	for _, r := range rs {
		if r.Arch == "" {
			return nil, fmt.Errorf("%s: a report without an arch", path)
		}
		if r.Error != "" && r.Cause == nil {
			r.Cause = legacyCause(r.Error)
		}
		r.Decide()
	}
	return rs, nil
}

// legacyCause is the cause of a report saved before reports carried one,
// read from how its error began: only a kernel build's is needed (the
// gate tells a candidate that does not compile from a run that could not
// decide), and only build errors had a fixed prefix.
func legacyCause(msg string) *Cause {
	rest, ok := strings.CutPrefix(msg, "kernel build: ")
	if !ok {
		return nil
	}
	step, _, _ := strings.Cut(rest, ":")
	return &Cause{Stage: StageBuild, Step: step}
}

// WriteJSON writes the report to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// Name is how the run is called in output: arch and patches.
func (r *Report) Name() string {
	arch := r.Arch
	if r.Kernel.Name != "" {
		arch += " " + r.Kernel.Name // the kernel axis: "x86_64 6.12 rfc-v2"
	}
	if len(r.Kernel.Rev) >= 12 {
		arch += "@" + r.Kernel.Rev[:12] // "x86_64 tree@f4e343e5451f baseline"
	}
	switch {
	case r.Patches == nil: // a console judged after the fact
		return arch + " (patches unknown)"
	case len(r.Patches) == 0:
		return arch + " baseline"
	}
	return arch + " " + strings.Join(r.Patches, "+")
}

// WriteText renders the table, the findings, and what is needed to
// reproduce the run.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "\n== %s: kernel %s (%s)\n", r.Name(), r.Kernel.Version, r.Kernel.Source)
	r.writeTable(w)
	r.writeFindings(w)
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  note: %s\n", p)
	}
	for _, a := range r.Artifacts {
		fmt.Fprintf(w, "  known boot artifact (not a finding): %s\n", a)
	}
	if r.Transport != "" {
		fmt.Fprintf(w, "  transport: %s\n", r.Transport)
	}
	if r.AliasModel.On || strings.Contains(r.EmulationNote, "virtually indexed") {
		fmt.Fprintf(w, "  alias model: %s\n", r.AliasModel.Summary())
		for _, p := range r.AliasModel.Problems {
			fmt.Fprintf(w, "  alias model: %s\n", p)
		}
	}
	for _, s := range r.Scenarios {
		if s.Name == KernelBuild {
			// Build-only: say so beside the verdict, or a PASS reads as
			// a run.
			fmt.Fprintf(w, "  build only: %s\n", strings.Join(s.Notes, "; "))
		}
	}
	fmt.Fprintf(w, "\nverdict: %s", strings.ToUpper(string(r.Verdict)))
	if r.OnlyKnown {
		fmt.Fprint(w, " (known failures only: the kernel source's own, kernels/known/)")
	}
	if r.Error != "" {
		fmt.Fprintf(w, " (could not decide: %s)", r.Error)
	}
	fmt.Fprintf(w, "\ntime: build %.1fs, boot %.1fs, agent %.1fs, total %.1fs; %s\n",
		r.Timings.Build, r.Timings.Boot, r.Timings.Agent, r.Timings.Total, r.Accel)
	if r.EmulationNote != "" {
		fmt.Fprintf(w, "note: %s\n", r.EmulationNote)
	}
	if r.ConsoleLog != "" {
		fmt.Fprintf(w, "console log: %s\n", r.ConsoleLog)
	}
	if r.Kernel.Config != "" {
		fmt.Fprintf(w, "kernel config: %s\n", r.Kernel.Config)
	}
	if r.Kernel.Patchfile != "" {
		fmt.Fprintf(w, "patches: %s\n", r.Kernel.Patchfile)
	}
	if r.Kernel.BuildFix != "" {
		fmt.Fprintf(w, "build fix: %s (applied first, not under test: the source does not build for %s without it)\n", r.Kernel.BuildFix, r.Arch)
	}
	if r.Firmware != "" {
		fmt.Fprintf(w, "firmware: %s\n", r.Firmware)
	}
	if r.QEMUCmdline != "" && r.Verdict != Pass {
		fmt.Fprintf(w, "reproduce: %s\n", r.QEMUCmdline)
	}
}

// writeTable is the scenario table: status and first finding or error.
func (r *Report) writeTable(w io.Writer) {
	if len(r.Scenarios) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SCENARIO\tSTATUS\tFINDING")
		for _, s := range r.Scenarios {
			f := ""
			switch {
			case len(s.Findings) > 0:
				f = s.Findings[0].Detail
				if n := len(s.Findings); n > 1 {
					f += fmt.Sprintf(" (+%d more)", n-1)
				}
			case s.Error != "":
				f = firstLine(s.Error)
			}
			st := s.Status
			if s.Known != "" {
				st += " (known)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, st, truncate(f, 110))
		}
		tw.Flush()
	}
}

// writeFindings lists every finding with its words, every scenario's
// error and the splats' quotes.
func (r *Report) writeFindings(w io.Writer) {
	var listed bool
	for _, s := range r.Scenarios {
		if len(s.Findings) == 0 && s.Error == "" {
			continue
		}
		if !listed {
			fmt.Fprintln(w, "\nFindings:")
			listed = true
		}
		if s.Known != "" {
			fmt.Fprintf(w, "  %s: known failure of this kernel source: %s\n", s.Name, s.Known)
		}
		for _, f := range s.Findings {
			fmt.Fprintf(w, "  %s: %s\n", s.Name, f.Detail)
			if f.Cause != "" {
				fmt.Fprintf(w, "      cause: %s\n", f.Cause)
			}
			for _, wd := range f.Words {
				fmt.Fprintf(w, "      word %d: before %#x after %#x want %#x\n", wd.Index, wd.Before, wd.After, wd.Want)
			}
		}
		if s.Error != "" {
			fmt.Fprintf(w, "  %s: could not decide: %s\n", s.Name, s.Error)
		}
		if s.Name == KernelHealth {
			for _, q := range s.Notes {
				fmt.Fprintf(w, "%s\n", indent(q, "      | "))
			}
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

func indent(s, p string) string {
	return p + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+p)
}

// AliasModelNote is the emulation note of a run with the cache model on.
func AliasModelNote(arch string) string {
	return "QEMU does not model caches; this run added dirtygate's model of " + arch + "'s virtually indexed data cache (--alias-model, a TCG plugin; " +
		"the kernel's flushes and purges announced by a test-only patch): a read through one alias of a line another alias wrote, with no flush between, is an alias finding. " +
		"The model is a worst case (no eviction): it shows a read that can be stale on hardware, not one that must be."
}

// EmulationNote says what this run can and cannot establish.
func EmulationNote(arch string, aliasing bool) string {
	n := "QEMU does not model caches: this run checks placement, carries, alignment, the eventfd and error paths, not cache coherence."
	if aliasing {
		n += " Real " + arch + " hardware has virtually indexed or aliasing caches: only a run there can show the kmap alias bug"
		if arch == "hppa" {
			n += " (or, under emulation, the cache model: --alias-model; it was off in this run)"
		}
		n += "."
	} else {
		n += " Real " + arch + " hardware has no aliasing caches, so coherence is not at stake there."
	}
	return n
}
