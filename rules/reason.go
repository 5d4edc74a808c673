package rules

import (
	"strconv"
	"time"
)

// Layouts of the times reasons show, in the case's zone.
const (
	whenLayout = "Mon 2 Jan 2006 15:04 MST"
	dateLayout = "Mon 2 Jan 2006" // a date field's day
	dayLayout  = "Mon 2 Jan"
)

// appendDue writes "<prefix><when>: <how the date was computed>", or, without a date,
// "<unknown><what is wrong with the date field>".
func (e *evaluation) appendDue(st *StepState, ds dateState, prefix, unknown string) {
	if ds != dateKnown {
		e.buf = append(e.buf, unknown...)
		e.appendDateProblem(st, ds)
		return
	}
	e.buf = append(e.buf, prefix...)
	e.buf = e.appendWhen(e.buf, st.At)
	e.buf = append(e.buf, ": "...)
	e.buf = appendTiming(e.buf, st.Timing)
}

// appendTiming writes how a date was computed: "day0 (Case.X = 2026-11-27) + 1bd at 09:00
// America/New_York, plus 3d 4h on hold, moved from Sat 28 Nov to Mon 30 Nov (weekend)".
func appendTiming(b []byte, t Timing) []byte {
	b = t.appendTo(b)
	if t.Held > 0 {
		b = append(b, ", plus "...)
		b = appendDuration(b, t.Held)
		b = append(b, " on hold"...)
	}
	if sh := t.Shift; sh.Rule != "" {
		b = append(b, ", moved from "...)
		b = sh.From.AppendFormat(b, dayLayout)
		b = append(b, " to "...)
		b = sh.To.AppendFormat(b, dayLayout)
		b = append(b, " ("...)
		b = append(b, sh.Why...)
		b = append(b, ')')
	}
	return b
}

// appendDateProblem says why a step has no date: its field is null or not a date, or its
// window's field holds what cannot be a window.
func (e *evaluation) appendDateProblem(st *StepState, ds dateState) {
	if w := st.Timing.Window; ds == dateRefused {
		e.buf = append(e.buf, "window "...)
		e.buf = append(e.buf, w.Window.Name...)
		e.buf = append(e.buf, ": "...)
		e.buf = w.Window.Field.appendTo(e.buf)
		e.buf = append(e.buf, " = "...)
		e.buf = appendValue(e.buf, w.Value, TypeNumber)
		e.buf = append(e.buf, ", want "...)
		e.buf = w.Window.appendWant(e.buf)
		return
	}
	e.buf = st.Timing.Field.appendTo(e.buf)
	if ds == dateNull {
		e.buf = append(e.buf, " is null"...)
		return
	}
	e.buf = append(e.buf, " = "...)
	e.buf = appendValue(e.buf, FieldValue(&e.c, st.Timing.Field), TypeString)
	e.buf = append(e.buf, " is not a "...)
	e.buf = append(e.buf, e.p.Fields[st.Timing.Field]...)
}

func (e *evaluation) appendWhen(b []byte, t time.Time) []byte {
	return t.In(e.loc).AppendFormat(b, whenLayout)
}

// appendLate writes a catch-up decision's facts: "due <date>, found <time>".
func (e *evaluation) appendLate(b []byte, l Late, at time.Time) []byte {
	b = append(b, "due "...)
	b = e.appendWhen(b, at)
	b = append(b, ", found "...)
	b = e.appendWhen(b, l.Found)
	if l.BeforeCreation {
		b = append(b, ", before the case was created"...)
	}
	return b
}

// held explains a step the open hold stops.
func (e *evaluation) held(st *StepState, ds dateState) {
	e.buf = append(e.buf, "On hold since "...)
	e.buf = e.appendWhen(e.buf, st.HeldSince)
	e.buf = append(e.buf, " ("...)
	e.buf = e.p.Hold.appendTo(e.buf)
	e.buf = append(e.buf, " is set): it does not come due, and its date moves later by the time held; "...)
	e.appendDue(st, ds, "so far ", "it also waits for a date: ")
	e.period()
}

// waiting explains a step whose gate is closed.
func (e *evaluation) waiting(st *StepState) {
	e.buf = append(e.buf, "Waiting since "...)
	e.buf = e.appendWhen(e.buf, st.Gate.Since)
	e.buf = append(e.buf, ": "...)
	e.buf = e.appendGate(e.buf, st.Gate)
	e.buf = append(e.buf, ". "...)
	e.appendDue(st, dateKnown, "Due ", "")
	e.period()
	if !st.Remind.IsZero() {
		e.buf = append(e.buf, " Next reminder "...)
		e.buf = e.appendWhen(e.buf, st.Remind)
		e.period()
	}
}

// failed explains a step whose action n failed or cannot be built.
func (e *evaluation) failed(n int, s *Step, detail string) {
	e.buf = append(e.buf, "Failed: action "...)
	e.buf = strconv.AppendInt(e.buf, int64(n), 10)
	e.buf = append(e.buf, " ("...)
	e.buf = append(e.buf, s.Actions[n-1].Kind...)
	e.buf = append(e.buf, "): "...)
	e.buf = append(e.buf, detail...)
	e.period()
}

func (e *evaluation) conditionFailed(st *StepState, kind string, err error) {
	st.State = StateFailed
	e.buf = append(e.buf, "Failed: "...)
	e.buf = append(e.buf, kind...)
	e.buf = append(e.buf, ": "...)
	e.buf = append(e.buf, err.Error()...)
	e.period()
}

// period ends a sentence, unless the text already does.
func (e *evaluation) period() {
	if n := len(e.buf); n > 0 && e.buf[n-1] != '.' {
		e.buf = append(e.buf, '.')
	}
}

// appendDuration writes a duration as people read it: "3d 4h", "2h 30m", "45m", "0m".
func appendDuration(b []byte, d time.Duration) []byte {
	d = d.Round(time.Minute)
	days, hours, mins := int64(d/(24*time.Hour)), int64(d/time.Hour%24), int64(d/time.Minute%60)
	sep := false
	for _, part := range []struct {
		n    int64
		unit byte
	}{{days, 'd'}, {hours, 'h'}, {mins, 'm'}} {
		if part.n == 0 {
			continue
		}
		if sep {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, part.n, 10)
		b = append(b, part.unit)
		sep = true
	}
	if !sep {
		b = append(b, "0m"...)
	}
	return b
}
