package policies

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// document is an AWS policy document (IAM, S3 bucket or KMS key policy) as
// read back from a server: the fields the checks need, in the shapes AWS
// accepts (a string or a list of strings; a principal "*" or a map).
type document struct {
	Statement statements `json:"Statement"`
}

type statement struct {
	Sid          string                    `json:"Sid"`
	Effect       string                    `json:"Effect"`
	Principal    json.RawMessage           `json:"Principal"`
	NotPrincipal json.RawMessage           `json:"NotPrincipal"`
	Action       stringList                `json:"Action"`
	NotAction    stringList                `json:"NotAction"`
	Resource     stringList                `json:"Resource"`
	NotResource  stringList                `json:"NotResource"`
	Condition    map[string]map[string]any `json:"Condition"`
}

// statements accepts a single statement object as well as a list.
type statements []statement

func (s *statements) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		var one statement
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = statements{one}
		return nil
	}
	var many []statement
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// stringList is a policy element that is a string or a list of strings.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*l = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

func parseDocument(raw []byte) (document, error) {
	var d document
	if err := json.Unmarshal(raw, &d); err != nil {
		return document{}, fmt.Errorf("policy document: %w", err)
	}
	return d, nil
}

// conditionValues returns the values of one condition key under one
// operator as strings (a value may be a string, a bool or a list), and
// whether the key is there. Operator and key names are matched without
// regard to case, as AWS does.
func conditionValues(cond map[string]map[string]any, operator, key string) ([]string, bool) {
	for op, kvs := range cond {
		if !strings.EqualFold(op, operator) {
			continue
		}
		for k, v := range kvs {
			if !strings.EqualFold(k, key) {
				continue
			}
			switch v := v.(type) {
			case []any:
				out := make([]string, 0, len(v))
				for _, e := range v {
					out = append(out, fmt.Sprint(e))
				}
				return out, true
			default:
				return []string{fmt.Sprint(v)}, true
			}
		}
	}
	return nil, false
}

// conditionCount is the number of operator/key pairs in cond.
func conditionCount(cond map[string]map[string]any) int {
	n := 0
	for _, kvs := range cond {
		n += len(kvs)
	}
	return n
}

// everyone reports whether a statement applies to every principal:
// "Principal": "*" or {"AWS": "*"} (or ["*"]), and no NotPrincipal.
func (s statement) everyone() bool {
	if len(s.NotPrincipal) > 0 {
		return false
	}
	var star string
	if json.Unmarshal(s.Principal, &star) == nil {
		return star == "*"
	}
	var m map[string]stringList
	if json.Unmarshal(s.Principal, &m) != nil {
		return false
	}
	for k, v := range m {
		if k == "AWS" {
			for _, p := range v {
				if p == "*" {
					return true
				}
			}
		}
	}
	return false
}

// coversAction reports whether the statement names action (directly or
// by a wildcard such as s3:* or s3:Put*), without NotAction.
func (s statement) coversAction(action string) bool {
	if len(s.NotAction) > 0 {
		return false
	}
	for _, a := range s.Action {
		if ok, _ := path.Match(strings.ToLower(a), strings.ToLower(action)); ok {
			return true
		}
	}
	return false
}

// coversResource reports whether one of the statement's resources is
// resource, or a pattern that matches it; a pattern ending in * covers
// every ARN that starts with what comes before the star (so
// arn:aws:s3:::b/* covers every object of bucket b).
func (s statement) coversResource(resource string) bool {
	if len(s.NotResource) > 0 {
		return false
	}
	for _, r := range s.Resource {
		if r == "*" || r == resource {
			return true
		}
		if head, ok := strings.CutSuffix(r, "*"); ok && !strings.ContainsAny(head, "*?") && strings.HasPrefix(resource, head) {
			return true
		}
	}
	return false
}
