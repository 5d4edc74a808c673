package slack

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"casebot/bot"
)

// Terminal prints messages for a person watching the terminal, one block per message: loose
// messages, a case's checklist as a box, its updates as the lines that changed, and replies
// under the case they belong to.
type Terminal struct {
	mu    sync.Mutex
	out   io.Writer
	n     int
	roots map[string]bot.Checklist // by the id Post gave the root: what was printed last
}

var _ bot.Threads = (*Terminal)(nil)

// NewTerminal returns a Terminal that writes to out.
func NewTerminal(out io.Writer) *Terminal {
	return &Terminal{out: out, roots: map[string]bot.Checklist{}}
}

// terminalText undoes the mrkdwn escaping, for reading.
var terminalText = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// Post writes m as "slack #legal │ first line", with later lines aligned under the first,
// and returns "terminal-N".
func (t *Terminal) Post(ctx context.Context, m bot.Message) (string, error) {
	return t.print(ctx, m.Channel, "slack "+m.Channel+" ", []string{"│ "}, strings.Split(terminalText.Replace(m.Text), "\n"), nil)
}

// Find returns "": a terminal cannot be asked what it printed.
func (t *Terminal) Find(context.Context, string, string, time.Time) (string, error) {
	return "", nil
}

// PostRoot prints c as a box: the case, one line a step, the buttons.
func (t *Terminal) PostRoot(ctx context.Context, channel string, c bot.Checklist) (string, error) {
	lines := []string{oneLine(caseLabel(c)) + " — " + oneLine(c.Playbook)}
	for _, it := range c.Items {
		lines = append(lines, terminalItem(it, c.Location))
	}
	if len(c.Buttons) > 0 {
		lines = append(lines, terminalButtons(c))
	}
	return t.print(ctx, channel, "slack "+channel+" ", []string{"┌ ", "│ ", "└ "}, lines, &c)
}

// FindThread returns "": a terminal cannot be asked what it printed.
func (t *Terminal) FindThread(context.Context, string, string, time.Time) (string, error) {
	return "", nil
}

// Update prints the lines of c that changed since the root ts was printed, under the case;
// nothing when none did.
func (t *Terminal) Update(ctx context.Context, channel, ts string, c bot.Checklist) error {
	t.mu.Lock()
	before, known := t.roots[ts]
	t.mu.Unlock()
	lines := []string{oneLine(caseLabel(c)) + " — updated"}
	for _, it := range c.Items {
		i := slices.IndexFunc(before.Items, func(b bot.ChecklistItem) bool { return b.Step == it.Step })
		if !known || i < 0 || before.Items[i] != it {
			lines = append(lines, terminalItem(it, c.Location))
		}
	}
	if len(c.Buttons) > 0 && (!known || !slices.Equal(before.Buttons, c.Buttons)) {
		lines = append(lines, terminalButtons(c))
	}
	if len(lines) == 1 {
		return nil
	}
	_, err := t.printAs(ctx, channel, "slack "+channel+" ", []string{"┌ ", "│ ", "└ "}, lines, ts, &c)
	return err
}

// Reply writes m as "slack #legal ↳ 00001026 │ first line", under the case of its thread.
func (t *Terminal) Reply(ctx context.Context, threadTS string, m bot.Message) (string, error) {
	t.mu.Lock()
	root, ok := t.roots[threadTS]
	t.mu.Unlock()
	thread := threadTS
	if ok {
		thread = oneLine(root.CaseNumber)
	}
	return t.print(ctx, m.Channel, "slack "+m.Channel+" ↳ "+thread+" ", []string{"│ "}, strings.Split(terminalText.Replace(m.Text), "\n"), nil)
}

// FindReply returns "": a terminal cannot be asked what it printed.
func (t *Terminal) FindReply(context.Context, string, string, string) (string, error) {
	return "", nil
}

// print writes lines, the first after head and the others under it aligned, each after a
// mark: marks[0] for the first line, marks[len-1] for the last, marks[1] between. It returns
// a new id, under which root (when not nil) is kept.
func (t *Terminal) print(ctx context.Context, channel, head string, marks, lines []string, root *bot.Checklist) (string, error) {
	return t.printAs(ctx, channel, head, marks, lines, "", root)
}

// printAs is print, keeping root under id, or under a new id when id is "".
func (t *Terminal) printAs(ctx context.Context, channel, head string, marks, lines []string, id string, root *bot.Checklist) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("print to %s: %w", channel, err)
	}
	indent := strings.Repeat(" ", len([]rune(head)))
	var b strings.Builder
	for i, line := range lines {
		mark := marks[min(1, len(marks)-1)]
		switch {
		case i == 0:
			b.WriteString(head)
			mark = marks[0]
		case i == len(lines)-1:
			b.WriteString(indent)
			mark = marks[len(marks)-1]
		default:
			b.WriteString(indent)
		}
		b.WriteString(mark)
		b.WriteString(bot.Printable(line))
		b.WriteByte('\n')
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := io.WriteString(t.out, b.String()); err != nil {
		return "", fmt.Errorf("print to %s: %w", channel, err)
	}
	if id == "" {
		t.n++
		id = "terminal-" + strconv.Itoa(t.n)
	}
	if root != nil {
		// A copy: the caller may change its checklist in place before the next Update.
		kept := *root
		kept.Items, kept.Buttons = slices.Clone(root.Items), slices.Clone(root.Buttons)
		t.roots[id] = kept
	}
	return id, nil
}

// oneLine is an untrusted value on one line, for the terminal.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// terminalItem is a checklist line for the terminal, its date in the case's zone.
func terminalItem(it bot.ChecklistItem, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	title := it.Title
	if title == "" {
		title = it.Step
	}
	status := itemStatus(it, func(t time.Time) string { return t.In(loc).Format(fallbackLayout) }, oneLine)
	return markOf(it.State).symbol + " " + oneLine(title) + " · " + status
}

// terminalButtons shows c's buttons as "[Hold] [Approve data deletion]".
func terminalButtons(c bot.Checklist) string {
	var labels []string
	for _, b := range c.Buttons {
		labels = append(labels, "["+terminalText.Replace(buttonLabel(c, b))+"]")
	}
	return strings.Join(labels, " ")
}
