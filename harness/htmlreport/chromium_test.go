//go:build chromium

// The page as a person sees it: headless Chromium (Debian's chromium)
// renders the captured s390x rfc-v2 report; the screenshot must show the
// drawings, and the DOM Chromium built must hold cells that match the
// findings. Slow (a browser start, ~10 s) and needs the package: run it
// with `make htmltest`. DIRTYGATE_SCREENSHOT=FILE keeps the picture.
package htmlreport

import (
	"bytes"
	"context"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dirtygate/harness/gate"
	"dirtygate/harness/report"
)

// chromium runs the browser headless on page with extra arguments, in a
// profile of its own, nothing fetched from the network.
func chromium(t *testing.T, page string, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: apt-get install chromium (make htmltest does)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--window-size=1200,2000", "--hide-scrollbars"}
	cmd := exec.CommandContext(ctx, bin, append(append(base, args...), "file://"+page)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.Bytes())
	}
	return out
}

func TestChromiumRendersTheDrawings(t *testing.T) {
	r := loadReport(t, captured)
	runs := []*report.Report{r}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var b bytes.Buffer
	if err := Write(&b, Page{Title: "dirtygate run: s390x rfc-v2", Runs: runs}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	shot := filepath.Join(dir, "shot.png")
	chromium(t, page, "--screenshot="+shot)
	checkScreenshot(t, shot)
	if keep := os.Getenv("DIRTYGATE_SCREENSHOT"); keep != "" {
		if png, err := os.ReadFile(shot); err == nil {
			os.WriteFile(keep, png, 0o644)
		}
	}

	dom := chromium(t, page, "--dump-dom")
	if n := checkDrawings(t, string(dom), runs); n < 100 {
		t.Errorf("Chromium's DOM matched only %d finding pages to cells", n)
	}
	if !bytes.Contains(dom, []byte(`class="move"`)) {
		t.Error("no move arrow in Chromium's DOM")
	}
}

// checkScreenshot: not blank (many non-white pixels, several colours),
// and the drawing's colours are on screen: the landed cells' and the
// moves' blue, and the cells' dark grey.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	bounds := img.Bounds()
	colours := map[color.RGBA]int{}
	ink := 0
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			colours[c]++
			if c.R < 240 || c.G < 240 || c.B < 240 {
				ink++
			}
		}
	}
	total := bounds.Dx() * bounds.Dy()
	if ink < total/50 || len(colours) < 10 {
		t.Fatalf("the screenshot looks blank: %d of %d pixels not white, %d colours", ink, total, len(colours))
	}
	for name, want := range map[string]color.RGBA{"landed blue": {0x1f, 0x77, 0xb4, 0xff}, "cell grey": {0x44, 0x44, 0x44, 0xff}} {
		if colours[want] < 50 {
			t.Errorf("the screenshot has %d pixels of %s %v: the drawing is not on screen", colours[want], name, want)
		}
	}
	t.Logf("screenshot %dx%d: %d%% ink, %d colours", bounds.Dx(), bounds.Dy(), 100*ink/total, len(colours))
}

// A gate's page: the matrix carries the changes, the drawings are the
// candidate's.
func TestChromiumRendersAGatePage(t *testing.T) {
	cand := loadReport(t, captured)
	base := &report.Report{Arch: cand.Arch, Kernel: cand.Kernel, Patches: []string{}, Verdict: report.Pass}
	for _, s := range cand.Scenarios {
		s.Status, s.Findings, s.Evidence = "pass", nil, nil
		base.Scenarios = append(base.Scenarios, s)
	}
	res := gate.Compare([]*report.Report{base}, []*report.Report{cand})
	var b bytes.Buffer
	if err := Write(&b, Page{Title: "dirtygate gate", Runs: []*report.Report{cand}, Gate: &res}); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "gate.html")
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := string(chromium(t, page, "--dump-dom"))
	if n := strings.Count(dom, `class="chg REGRESSION"`); n == 0 || n != res.Regressions {
		t.Errorf("Chromium's DOM shows %d regressions, the gate has %d", n, res.Regressions)
	}
	checkDrawings(t, dom, []*report.Report{cand})
}
