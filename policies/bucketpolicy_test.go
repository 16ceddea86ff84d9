package policies

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
)

var exampleBucket = BucketPolicy{Bucket: example.Bucket, DataKeyARN: example.DataKeyARN}

func TestBucketPolicyGolden(t *testing.T) {
	golden(t, "bucket-policy.json", must(exampleBucket.Render()))
	golden(t, "kms-key-policy.json", must(exampleKey.Render()))
}

// golden compares got with the file name (rewritten with -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(name, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what Render gives (run go test ./policies -update):\n%s", name, got)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// What Render writes is what the check looks for, whatever the prefix.
func TestBucketPolicyRenderedPassesAnalysis(t *testing.T) {
	for _, prefix := range []string{"", "logkeeper/prod", "/a/"} {
		f, err := AnalyzeBucketPolicy(must(exampleBucket.Render()), example.Bucket, prefix)
		if err != nil {
			t.Fatal(err)
		}
		if !f.DeniesInsecureTransport || !f.DeniesUnencryptedPuts || !slices.Equal(f.AllowedKMSKeys, []string{example.DataKeyARN}) {
			t.Fatalf("prefix %q: %+v", prefix, f)
		}
	}
	f, _ := AnalyzeBucketPolicy(must(BucketPolicy{Bucket: "b"}.Render()), "b", "")
	if !f.DeniesInsecureTransport || !f.DeniesUnencryptedPuts || f.AllowedKMSKeys != nil {
		t.Fatalf("without a key: %+v", f)
	}
	// The policy of another bucket says nothing about this one.
	f, _ = AnalyzeBucketPolicy(must(exampleBucket.Render()), "other", "")
	if f.DeniesInsecureTransport || f.DeniesUnencryptedPuts || f.AllowedKMSKeys != nil {
		t.Fatalf("another bucket's policy counted: %+v", f)
	}
}

// Statements that look right but do not deny every such request are not
// counted.
func TestBucketPolicyAnalysisIsStrict(t *testing.T) {
	const tls = `{"Sid":"T","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`
	const sse = `{"Effect":"Deny","Principal":{"AWS":"*"},"Action":["s3:PutObject"],"Resource":"arn:aws:s3:::b/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}}`
	for _, tc := range []struct {
		name       string
		statements string
		tls, sse   bool
	}{
		{"both", tls + "," + sse, true, true},
		{"a single statement object", "", true, false},
		{"bool value", strings.Replace(tls, `"false"`, `false`, 1), true, false},
		{"allow instead of deny", strings.Replace(tls, "Deny", "Allow", 1), false, false},
		{"one principal only", strings.Replace(tls, `"Principal":"*"`, `"Principal":{"AWS":"arn:aws:iam::1:role/x"}`, 1), false, false},
		{"not principal", strings.Replace(tls, `"Principal":"*"`, `"NotPrincipal":{"AWS":"arn:aws:iam::1:role/x"}`, 1), false, false},
		{"objects only", strings.Replace(tls, `"arn:aws:s3:::b",`, ``, 1), false, false},
		{"gets only", strings.Replace(tls, `"s3:*"`, `"s3:GetObject"`, 1), false, false},
		{"narrowed by source address", strings.Replace(tls, `"Bool":{`, `"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"Bool":{`, 1), false, false},
		{"secure transport true", strings.Replace(tls, `"false"`, `"true"`, 1), false, false},
		{"SSE-S3 allowed", strings.Replace(sse, `"aws:kms"`, `["aws:kms","AES256"]`, 1), false, false},
		{"Null form", strings.Replace(sse, `"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}`, `"Null":{"s3:x-amz-server-side-encryption":"true"}`, 1), false, true},
		{"other prefix", strings.Replace(sse, `b/*`, `b/other/*`, 1), false, false},
		{"whole account wildcard", strings.Replace(sse, `arn:aws:s3:::b/*`, `*`, 1), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := `{"Version":"2012-10-17","Statement":[` + tc.statements + `]}`
			if tc.statements == "" {
				doc = `{"Version":"2012-10-17","Statement":` + tls + `}`
				tc.tls = true
			}
			f, err := AnalyzeBucketPolicy([]byte(doc), "b", "p")
			if err != nil {
				t.Fatal(err)
			}
			if f.DeniesInsecureTransport != tc.tls || f.DeniesUnencryptedPuts != tc.sse {
				t.Fatalf("%+v, want tls %v sse %v", f, tc.tls, tc.sse)
			}
		})
	}
	if _, err := AnalyzeBucketPolicy([]byte("not json"), "b", ""); err == nil {
		t.Fatal("a document that is not JSON was analysed")
	}
}

func TestBucketPolicyKeyRestriction(t *testing.T) {
	deny := func(keys string) string {
		return `{"Effect":"Deny","Principal":"*","Action":"s3:Put*","Resource":"arn:aws:s3:::b/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption-aws-kms-key-id":` + keys + `}}}`
	}
	f, _ := AnalyzeBucketPolicy([]byte(`{"Statement":[`+deny(`["k1","k2"]`)+`,`+deny(`"k2"`)+`]}`), "b", "")
	if !slices.Equal(f.AllowedKMSKeys, []string{"k2"}) {
		t.Fatalf("allowed keys %v, want only the key both statements allow", f.AllowedKMSKeys)
	}
}

func TestBucketPolicyRefusesBadInput(t *testing.T) {
	for _, p := range []BucketPolicy{{}, {Bucket: "b/c"}, {Bucket: "b", DataKeyARN: "alias/x"}, {Bucket: "b", DataKeyARN: "arn:aws:kms:us-east-1:1:key/*"}} {
		if _, err := p.Render(); err == nil {
			t.Errorf("Render(%+v): no error", p)
		}
	}
}
