package policies

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite iam-exporter.json")

// example renders policies/iam-exporter.json.
var example = ExporterPolicy{
	Bucket: "compliance-archive", Prefix: "logkeeper/prod", Region: "us-east-1",
	DataKeyARN:    "arn:aws:kms:us-east-1:111122223333:key/1111aaaa-22bb-33cc-44dd-555555eeeeee",
	SigningKeyARN: "arn:aws:kms:us-east-1:111122223333:key/9999ffff-88ee-77dd-66cc-444444bbbbbb",
}

func TestExporterPolicyGolden(t *testing.T) {
	got, err := example.Render()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("iam-exporter.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("iam-exporter.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("iam-exporter.json is not what Render gives (run go test ./policies -update):\n%s", got)
	}
}

func TestExporterPolicyScoped(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    ExporterPolicy
		sids []string
	}{
		{"everything", example, []string{"ListArchivePrefix", "BucketSettingsAndUploads", "ArchiveObjects", "EncryptArchiveObjects", "DescribeArchiveKey", "SignManifests", "ReadSigningPublicKey"}},
		{"data key only", ExporterPolicy{Bucket: example.Bucket, Prefix: example.Prefix, Region: example.Region, DataKeyARN: example.DataKeyARN}, []string{"ListArchivePrefix", "BucketSettingsAndUploads", "ArchiveObjects", "EncryptArchiveObjects", "DescribeArchiveKey"}},
		{"no kms at all", ExporterPolicy{Bucket: "b", Prefix: "/p/q/"}, []string{"ListArchivePrefix", "BucketSettingsAndUploads", "ArchiveObjects"}},
		{"whole bucket", ExporterPolicy{Bucket: "b", SigningKeyARN: example.SigningKeyARN}, []string{"ListArchivePrefix", "BucketSettingsAndUploads", "ArchiveObjects", "SignManifests", "ReadSigningPublicKey"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := tc.p.Render()
			if err != nil {
				t.Fatal(err)
			}
			var doc iamPolicy
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("not valid JSON: %v", err)
			}
			if doc.Version != "2012-10-17" || len(doc.Statement) != len(tc.sids) {
				t.Fatalf("version %s, %d statements, want %v", doc.Version, len(doc.Statement), tc.sids)
			}
			prefix := strings.Trim(tc.p.Prefix, "/")
			for i, s := range doc.Statement {
				if s.Sid != tc.sids[i] || s.Effect != "Allow" {
					t.Fatalf("statement %d: %s %s, want Allow %s", i, s.Sid, s.Effect, tc.sids[i])
				}
				for _, a := range s.Action {
					if strings.Contains(a, "*") || strings.Contains(a, "Delete") || strings.HasPrefix(a, "s3:PutBucket") || a == "kms:Encrypt" {
						t.Fatalf("statement %s grants %s", s.Sid, a)
					}
				}
				for _, r := range s.Resource {
					switch {
					case r == "*":
						t.Fatalf("statement %s applies to every resource", s.Sid)
					case strings.HasPrefix(r, "arn:aws:s3:::"):
						want := "arn:aws:s3:::" + tc.p.Bucket
						if r != want && r != want+"/"+prefixPath(prefix)+"*" {
							t.Fatalf("statement %s: resource %s is not the bucket or the prefix", s.Sid, r)
						}
					case r != tc.p.DataKeyARN && r != tc.p.SigningKeyARN:
						t.Fatalf("statement %s: resource %s is not one of the given keys", s.Sid, r)
					}
				}
				if s.Sid == "EncryptArchiveObjects" {
					ctx := s.Condition["StringEquals"]["kms:EncryptionContext:logkeeper:store"]
					if ctx != "s3://compliance-archive/logkeeper/prod" || s.Condition["StringEquals"]["kms:ViaService"] != "s3.us-east-1.amazonaws.com" {
						t.Fatalf("data key condition %v: want the store's encryption context through S3", s.Condition)
					}
				}
				if s.Sid == "DescribeArchiveKey" && (len(s.Action) != 1 || s.Action[0] != "kms:DescribeKey" || len(s.Resource) != 1 || s.Resource[0] != tc.p.DataKeyARN) {
					t.Fatalf("describe statement %+v: want kms:DescribeKey on the data key only", s)
				}
				if s.Sid == "ListArchivePrefix" {
					if got := s.Condition["StringLike"]["s3:prefix"].([]any)[0]; got != prefixPath(prefix)+"*" {
						t.Fatalf("list condition %v, want the prefix", got)
					}
				}
			}
		})
	}
}

func prefixPath(p string) string {
	if p == "" {
		return ""
	}
	return p + "/"
}

func TestExporterPolicyRefusesBadInput(t *testing.T) {
	for _, p := range []ExporterPolicy{
		{},
		{Bucket: "b/c"},
		{Bucket: "b", Prefix: "logs/*"},
		{Bucket: "b", DataKeyARN: "alias/archive"},
		{Bucket: "b", SigningKeyARN: "arn:aws:kms:us-east-1:1:key/*"},
	} {
		if _, err := p.Render(); err == nil {
			t.Errorf("Render(%+v): no error", p)
		}
	}
}
