package rules

import (
	"testing"

	"casebot/bot"
)

// appendKey must build exactly bot.EffectKey, or ledger look-ups would miss.
func TestAppendKey(t *testing.T) {
	for _, tt := range []struct {
		playbook, step string
		action         int
		caseID         string
	}{
		{"termination-sop", "attrition", 1, "500000000000001AAA"},
		{"p", "s", 12, ""},
		{"a_b", "step-2", 0, "5003000000D8cuI"},
	} {
		want := bot.EffectKey(tt.playbook, tt.step, tt.action, tt.caseID)
		if got := string(appendKey([]byte("junk"), tt.playbook, tt.step, tt.action, tt.caseID)[4:]); got != want {
			t.Errorf("appendKey = %q, want %q", got, want)
		}
	}
}

func TestCreatedBy(t *testing.T) {
	key := bot.EffectKey("pb", "step", 1, "500") + "/task"
	for _, tt := range []struct {
		key, playbook, step string
		want                bool
	}{
		{key, "pb", "step", true},
		{key, "pb", "ste", false},
		{key, "p", "step", false},
		{key, "pb", "step/1", true},
		{"pb/step", "pb", "step", false},
		{"pbx/step/1/500", "pb", "step", false},
		{"", "pb", "step", false},
	} {
		if got := createdBy(tt.key, tt.playbook, tt.step); got != tt.want {
			t.Errorf("createdBy(%q, %q, %q) = %v, want %v", tt.key, tt.playbook, tt.step, got, tt.want)
		}
	}
}
