package policies

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// KMS condition keys on the encryption context: the store's pair, and the
// object ARN S3 puts in the context of what it encrypts by the bucket's
// default encryption.
const (
	condContextStore = "kms:EncryptionContext:" + ContextStore
	condContextS3ARN = "kms:EncryptionContext:aws:s3:arn"
)

// KeyPolicy describes the key policy of the archive's data key
// (store.sse_kms_key_id). KeyARN and Stores are required.
type KeyPolicy struct {
	// KeyARN is the data key's ARN; its account is the one whose root
	// keeps administering the key.
	KeyARN string
	// Stores are the store URLs (s3://BUCKET/PREFIX) whose objects the key
	// encrypts: the logkeeper:store values of their encryption context.
	Stores []string
	// Region is the bucket's region; with it the exporter may use the key
	// only through S3 (kms:ViaService).
	Region string
	// Exporters are the IAM principal ARNs (the exporter's role) allowed
	// to use the key through S3. Empty: no Allow statement (grant it in
	// IAM, policies/iam-exporter.json, which the account root statement
	// permits).
	Exporters []string
}

// Statement ids of the rendered key policy.
const (
	SidKeyAdministration   = "EnableAccountAdministration"
	SidKeyExporterUse      = "AllowExporterUseThroughS3"
	SidKeyDenyOtherContext = "DenyUseOutsideTheArchive"
)

type keyStatement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Principal map[string]any            `json:"Principal"`
	Action    []string                  `json:"Action"`
	Resource  string                    `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// keyDataActions are the KMS operations that encrypt or decrypt data
// under the key.
var keyDataActions = []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"}

// Render returns the key policy as indented JSON:
//
//   - the account's root administers the key (AWS's default statement,
//     without which the key could become unmanageable);
//   - with Exporters, they may use the key for kms:GenerateDataKey and
//     kms:Decrypt only through S3 and only with the encryption context
//     logkeeper:store of one of the stores;
//   - everyone (the root included) is denied every data operation whose
//     encryption context names neither one of the stores (logkeeper:store)
//     nor an S3 object under one of them (aws:s3:arn, the context of what
//     S3 encrypts by the bucket's default encryption: logkeeper writes
//     checkpoints, hold records and custody events without SSE headers).
//     The key encrypts nothing but the archive, and a ciphertext cannot be
//     decrypted by naming another context.
func (p KeyPolicy) Render() ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	account := strings.SplitN(p.KeyARN, ":", 6)[4]
	partition := strings.SplitN(p.KeyARN, ":", 6)[1]
	stores := make([]any, len(p.Stores))
	for i, s := range p.Stores {
		stores[i] = s
	}
	sts := []keyStatement{{
		Sid: SidKeyAdministration, Effect: "Allow",
		Principal: map[string]any{"AWS": "arn:" + partition + ":iam::" + account + ":root"},
		Action:    []string{"kms:*"}, Resource: "*",
	}}
	if len(p.Exporters) > 0 {
		cond := map[string]map[string]any{"StringEquals": {condContextStore: stores}}
		if p.Region != "" {
			cond["StringEquals"]["kms:ViaService"] = "s3." + p.Region + ".amazonaws.com"
		}
		sts = append(sts, keyStatement{
			Sid: SidKeyExporterUse, Effect: "Allow",
			Principal: map[string]any{"AWS": p.Exporters},
			Action:    []string{"kms:GenerateDataKey", "kms:Decrypt"}, Resource: "*",
			Condition: cond,
		})
	}
	objects := make([]any, len(p.Stores))
	for i, s := range p.Stores {
		objects[i] = "arn:" + partition + ":s3:::" + strings.TrimSuffix(strings.TrimPrefix(s, "s3://"), "/") + "/*"
	}
	sts = append(sts, keyStatement{
		Sid: SidKeyDenyOtherContext, Effect: "Deny",
		Principal: map[string]any{"AWS": "*"},
		Action:    keyDataActions, Resource: "*",
		Condition: map[string]map[string]any{
			"StringNotEquals": {condContextStore: stores},
			"StringNotLike":   {condContextS3ARN: objects},
		},
	})
	out, err := json.MarshalIndent(struct {
		Version   string         `json:"Version"`
		Statement []keyStatement `json:"Statement"`
	}{"2012-10-17", sts}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func (p KeyPolicy) validate() error {
	var errs []error
	if !isKeyARN(p.KeyARN) {
		errs = append(errs, fmt.Errorf("key %q: must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias or id", p.KeyARN))
	}
	if len(p.Stores) == 0 {
		errs = append(errs, errors.New("no store: the key policy needs the store URLs of the encryption context"))
	}
	for _, s := range p.Stores {
		if !strings.HasPrefix(s, "s3://") || strings.ContainsAny(s, "*?\"\\") || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			errs = append(errs, fmt.Errorf("store %q: must be an s3:// URL without wildcards or quotes", s))
		}
	}
	for _, e := range p.Exporters {
		if !strings.HasPrefix(e, "arn:aws") || !strings.Contains(e, ":iam::") || !plainARN(e) {
			errs = append(errs, fmt.Errorf("exporter %q: must be an IAM principal ARN (arn:aws:iam::ACCOUNT:role/NAME)", e))
		}
	}
	return errors.Join(errs...)
}

// KeyPolicyFindings is what a key policy says about the encryption
// context.
type KeyPolicyFindings struct {
	// DeniesOtherContexts: a Deny for everyone of kms:Decrypt and
	// kms:GenerateDataKey (or a wildcard covering them) unless the
	// context's logkeeper:store is the store (StringNotEquals), or, as
	// the only other condition, its aws:s3:arn is an object of the bucket
	// (StringNotLike).
	DeniesOtherContexts bool
	// ConditionedAllows are the Sids (or indexes) of Allow statements
	// granting kms:Decrypt or kms:GenerateDataKey only with the store's
	// logkeeper:store context (StringEquals).
	ConditionedAllows []string
	// UnconditionedAllows are the Allow statements that grant kms:Decrypt
	// or kms:GenerateDataKey with no encryption context condition, other
	// than to the account root (whose grant only delegates to IAM).
	UnconditionedAllows []string
}

// AnalyzeKeyPolicy reads a KMS key policy document for the encryption
// context of store (its logkeeper:store value).
func AnalyzeKeyPolicy(raw []byte, store string) (KeyPolicyFindings, error) {
	doc, err := parseDocument(raw)
	if err != nil {
		return KeyPolicyFindings{}, err
	}
	var f KeyPolicyFindings
	for i, s := range doc.Statement {
		name := s.Sid
		if name == "" {
			name = fmt.Sprintf("statement %d", i+1)
		}
		data := s.coversAction("kms:Decrypt") || s.coversAction("kms:GenerateDataKey")
		if !data {
			continue
		}
		switch s.Effect {
		case "Deny":
			v, ok := conditionValues(s.Condition, "StringNotEquals", condContextStore)
			_, arn := conditionValues(s.Condition, "StringNotLike", condContextS3ARN)
			if ok && (conditionCount(s.Condition) == 1 || arn && conditionCount(s.Condition) == 2) &&
				slices.Contains(v, store) && s.everyone() && s.coversAction("kms:Decrypt") && s.coversAction("kms:GenerateDataKey") {
				f.DeniesOtherContexts = true
			}
		case "Allow":
			if v, ok := conditionValues(s.Condition, "StringEquals", condContextStore); ok && slices.Contains(v, store) {
				f.ConditionedAllows = append(f.ConditionedAllows, name)
			} else if !hasContextCondition(s.Condition) && !s.rootOnly() {
				f.UnconditionedAllows = append(f.UnconditionedAllows, name)
			}
		}
	}
	return f, nil
}

// hasContextCondition reports whether cond names any kms:EncryptionContext
// key.
func hasContextCondition(cond map[string]map[string]any) bool {
	for _, kvs := range cond {
		for k := range kvs {
			if strings.HasPrefix(strings.ToLower(k), "kms:encryptioncontext") {
				return true
			}
		}
	}
	return false
}

// rootOnly reports whether the statement's principals are all account
// roots (arn:aws:iam::ACCOUNT:root or a bare account id), whose grant in a
// key policy lets IAM policies decide.
func (s statement) rootOnly() bool {
	var m map[string]stringList
	if json.Unmarshal(s.Principal, &m) != nil || len(m) != 1 || len(m["AWS"]) == 0 {
		return false
	}
	for _, p := range m["AWS"] {
		if !strings.HasSuffix(p, ":root") && !isAccountID(p) {
			return false
		}
	}
	return true
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
