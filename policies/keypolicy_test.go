package policies

import (
	"slices"
	"strings"
	"testing"
)

var exampleKey = KeyPolicy{
	KeyARN: example.DataKeyARN, Stores: []string{"s3://compliance-archive/logkeeper/prod"}, Region: "us-east-1",
	Exporters: []string{"arn:aws:iam::111122223333:role/logkeeper-exporter"},
}

func TestKeyPolicyRenderedPassesAnalysis(t *testing.T) {
	for _, p := range []KeyPolicy{exampleKey, {KeyARN: example.DataKeyARN, Stores: exampleKey.Stores}} {
		f, err := AnalyzeKeyPolicy(must(p.Render()), exampleKey.Stores[0])
		if err != nil {
			t.Fatal(err)
		}
		if !f.DeniesOtherContexts || len(f.UnconditionedAllows) != 0 || len(f.ConditionedAllows) != len(p.Exporters) {
			t.Fatalf("%+v", f)
		}
		if f, _ := AnalyzeKeyPolicy(must(p.Render()), "s3://other/prefix"); f.DeniesOtherContexts || len(f.ConditionedAllows) != 0 {
			t.Fatalf("counted for another store: %+v", f)
		}
	}
	if !strings.Contains(string(must(exampleKey.Render())), `"arn:aws:iam::111122223333:root"`) {
		t.Fatal("the account root does not administer the key")
	}
}

func TestKeyPolicyAnalysis(t *testing.T) {
	const store = "s3://b/p"
	// The default key policy AWS (and local-kms) give a new key.
	def := `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`
	f, err := AnalyzeKeyPolicy([]byte(def), store)
	if err != nil || f.DeniesOtherContexts || len(f.ConditionedAllows)+len(f.UnconditionedAllows) != 0 {
		t.Fatalf("default policy: %+v %v", f, err)
	}
	open := `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:role/app"},"Action":["kms:Decrypt"],"Resource":"*"},
		{"Sid":"ok","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:role/lk"},"Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:logkeeper:store":"s3://b/p"}}}]}`
	f, _ = AnalyzeKeyPolicy([]byte(open), store)
	if !slices.Equal(f.UnconditionedAllows, []string{"statement 1"}) || !slices.Equal(f.ConditionedAllows, []string{"ok"}) {
		t.Fatalf("%+v", f)
	}
	// A deny narrowed by another condition does not deny every other use.
	narrowed := strings.Replace(string(must(KeyPolicy{KeyARN: example.DataKeyARN, Stores: []string{store}}.Render())),
		`"StringNotEquals": {`, `"Bool": {"aws:ViaAWSService": "true"}, "StringNotEquals": {`, 1)
	if f, err := AnalyzeKeyPolicy([]byte(narrowed), store); err != nil || f.DeniesOtherContexts {
		t.Fatalf("narrowed deny counted: %+v %v", f, err)
	}
}

func TestKeyPolicyRefusesBadInput(t *testing.T) {
	for _, p := range []KeyPolicy{
		{},
		{KeyARN: "alias/x", Stores: []string{"s3://b"}},
		{KeyARN: example.DataKeyARN},
		{KeyARN: example.DataKeyARN, Stores: []string{"file:///x"}},
		{KeyARN: example.DataKeyARN, Stores: []string{"s3://b"}, Exporters: []string{"*"}},
	} {
		if _, err := p.Render(); err == nil {
			t.Errorf("Render(%+v): no error", p)
		}
	}
}
