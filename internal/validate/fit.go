package validate

import (
	"fmt"
	"slices"
)

// shortMessage returns the ShortMessage of a finding of rule with the
// given action, key and message: empty unless it is a warning too long
// for one line.
func shortMessage(rule RuleID, action Action, key, message, format string, args ...any) string {
	if action != Warn {
		return ""
	}
	if short := fitWarning(rule, key, format, args...); short != message {
		return short
	}
	return ""
}

// fitWarning formats a warning's message so that the webhook's line,
// "KEY: MESSAGE [rule]", fits MaxWarningLength. It cuts the string
// arguments, the names and lists of unbounded length, longest first, and
// keeps the format's text, which states the problem and the fix. The
// other arguments are kept whole.
func fitWarning(rule RuleID, key, format string, args ...any) string {
	room := MaxWarningLength - len([]rune(" ["+string(rule)+"]"))
	if key != "" {
		room -= len([]rune(key + ": "))
	}
	lengths := map[int]int{}
	blank := slices.Clone(args)
	for i, arg := range args {
		if s, ok := arg.(string); ok {
			lengths[i] = len([]rune(s))
			blank[i] = ""
		}
	}
	room -= len([]rune(fmt.Sprintf(format, blank...)))
	limits := shareRoom(lengths, room)
	fitted := slices.Clone(args)
	for i, limit := range limits {
		fitted[i] = truncate(args[i].(string), limit)
	}
	return fmt.Sprintf(format, fitted...)
}

// shareRoom returns, for each argument of lengths, the length it may
// keep so that the total fits room: the shortest keep their length and
// the rest share what is left equally. Each keeps at least one rune, the
// "…" that marks the cut.
func shareRoom(lengths map[int]int, room int) map[int]int {
	order := make([]int, 0, len(lengths))
	for i := range lengths {
		order = append(order, i)
	}
	slices.SortFunc(order, func(a, b int) int { return lengths[a] - lengths[b] })
	limits := make(map[int]int, len(lengths))
	for n, i := range order {
		share := max(room/(len(order)-n), 1)
		limits[i] = min(lengths[i], share)
		room -= limits[i]
	}
	return limits
}
