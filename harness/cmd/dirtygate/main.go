// Command dirtygate decides whether a change to vhost's dirty-page logging
// is safe: it builds kernels carrying the change, boots them under QEMU with
// the guest agent, and reports per architecture and scenario.
//
//	dirtygate run --arch x86_64 [--patch P]... [--kernel 6.1|6.12|DIR] [--json FILE]
//	dirtygate gate --candidate P [--base P] [--arch LIST|all]
//	dirtygate arches
//	dirtygate kernels
//	dirtygate parse CONSOLE_LOG
//
// `dirtygate help` lists every command with its flags. Exit status: 0
// pass, 1 findings, 2 could not decide. Runs on the host.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// command is one subcommand: define adds its flags to a fresh flag set,
// run runs it once the flags are parsed.
type command interface {
	define(fs *flag.FlagSet)
	run(ctx context.Context, fs *flag.FlagSet) int
}

// commands is every subcommand, in usage's order.
var commands = []struct {
	name, args, summary string
	new                 func() command
}{
	{"run", "", "build, boot and judge the kernels of each arch x kernel; a scenario x run matrix for several", func() command { return &runCmd{} }},
	{"gate", "", "base vs candidate per arch and scenario; exit 1 on a regression (--kernel GITDIR --base REV --candidate REV, or --candidate BASE..CAND: two commits of a kernel tree)", func() command { return &gateCmd{} }},
	{"compare", "BASE.json CANDIDATE.json", "the gate's comparison of two saved reports", func() command { return &compareCmd{} }},
	{"selftest", "", "gate each kernel mutant (kernels/mutants/) against its base: mutant x scenario", func() command { return &selftestCmd{} }},
	{"arches", "", "targets and what each is missing here (--packages: the Debian packages they need)", func() command { return &archesCmd{} }},
	{"kernels", "", "kernel sources --kernel names, what is installed, the patch ports", func() command { return &kernelsCmd{} }},
	{"parse", "LOG", "judge a console log captured elsewhere (real hardware, a LAVA job's log)", func() command { return &parseCmd{} }},
	{"bench", "", "time builds, verdicts, patch swaps, boots", func() command { return &benchCmd{} }},
	{"lava", "", "a LAVA job booting the kernel with the agent (or executor) as /init", func() command { return &lavaCmd{} }},
}

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(dispatch(ctx, os.Args[1], os.Args[2:]))
}

func dispatch(ctx context.Context, name string, args []string) int {
	switch name {
	case "version":
		fmt.Println("dirtygate 0.1")
		return 0
	case "-h", "--help", "help":
		usage(os.Stderr)
		return 0
	}
	for _, c := range commands {
		if c.name != name {
			continue
		}
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		cmd := c.new()
		cmd.define(fs)
		if err := fs.Parse(args); err != nil {
			return 2
		}
		return cmd.run(ctx, fs)
	}
	fmt.Fprintf(os.Stderr, "dirtygate: unknown command %q\n", name)
	usage(os.Stderr)
	return 2
}

// usage lists each command with the flags its flag set defines
// (`dirtygate COMMAND -h` explains each flag).
func usage(w io.Writer) {
	fmt.Fprintln(w, "usage:")
	for _, c := range commands {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		c.new().define(fs)
		fmt.Fprintf(w, "  dirtygate %s%s\n", c.name, synopsis(fs, c.args))
		fmt.Fprintf(w, "      %s\n", c.summary)
	}
	fmt.Fprint(w, `  dirtygate COMMAND -h      what each flag of COMMAND does
(KERNEL: 6.1, 6.12 (the default), a kernel tree's directory or DIR@REV, comma-separated; --kernel-src is an alias)
exit status: 0 pass, 1 findings (gate, compare: a regression), 2 could not decide,
             3 (run, parse) failed only where the kernel source is known to fail (kernels/known/)
`)
}

// synopsis is " [--flag VALUE]... ARGS", wrapped, from a flag set.
func synopsis(fs *flag.FlagSet, args string) string {
	var parts []string
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, "alias of ") {
			return
		}
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		name, _ := flag.UnquoteUsage(f)
		switch {
		case name == "": // a bool
			parts = append(parts, "["+dash+f.Name+"]")
		case name == "value" || name == "string" || name == "int":
			parts = append(parts, "["+dash+f.Name+" "+strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))+"]")
		default:
			parts = append(parts, "["+dash+f.Name+" "+strings.ToUpper(name)+"]")
		}
	})
	if args != "" {
		parts = append(parts, args)
	}
	var b strings.Builder
	line := 0
	for _, p := range parts {
		if line+len(p) > 90 {
			b.WriteString("\n               ")
			line = 0
		}
		b.WriteString(" " + p)
		line += len(p) + 1
	}
	return b.String()
}

// writeJSON writes v indented, for writeFile.
func writeJSON(v any) func(*os.File) error {
	return func(f *os.File) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err == nil {
			_, err = f.Write(append(b, '\n'))
		}
		return err
	}
}

func writeFile(path string, write func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// fail prints a usage or setup error and returns exit status 2.
func fail(prefix string, err error) int {
	fmt.Fprintln(os.Stderr, prefix+":", err)
	return 2
}
