package policies

import "testing"

// A policy document read back from a server is outside input: whatever it
// holds, the analysers return findings or an error, never panic.
func FuzzAnalyzePolicies(f *testing.F) {
	f.Add(must(exampleBucket.Render()))
	f.Add(must(exampleKey.Render()))
	f.Add([]byte(`{"Statement":{"Effect":"Deny","Principal":{"AWS":["*"]},"Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":[false]}}}}`))
	f.Add([]byte(`{"Statement":[{"Principal":7,"Action":[1],"Condition":{"Bool":null}}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		_, _ = AnalyzeBucketPolicy(doc, "compliance-archive", "logkeeper/prod")
		_, _ = AnalyzeKeyPolicy(doc, "s3://compliance-archive/logkeeper/prod")
	})
}
