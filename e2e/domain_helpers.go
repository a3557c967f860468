package e2e

// stringOr returns v when it is a string, else "" (a JSON field that may be absent).
func stringOr(v any) string {
	s, _ := v.(string)
	return s
}
