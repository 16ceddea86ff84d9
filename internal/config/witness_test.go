package config

import (
	"reflect"
	"strings"
	"testing"
)

// store.witness: parsed like store.url, never the store itself, and a bad
// URL is reported at its key without quoting a password.
func TestWitness(t *testing.T) {
	const rest = "signing: {key: file:///k.pem}\nstreams: [{name: s, source: {type: dir, path: /x}}]\n"
	tests := []struct {
		name    string
		store   string
		want    *Store // nil: no witness
		wantErr string
	}{
		{"none", "{url: file:///a}", nil, ""},
		{"folder", "{url: s3://bkt/p, witness: 'file:///srv/witness/'}", &Store{URL: "file:///srv/witness/", PartSizeMiB: 8, Concurrency: 4, Scheme: SchemeFile, Path: "/srv/witness"}, ""},
		{"bucket keeps path style", "{url: s3://bkt/p, path_style: true, witness: s3://wit/p}", &Store{URL: "s3://wit/p", PathStyle: true, PartSizeMiB: 8, Concurrency: 4, Scheme: SchemeS3, Bucket: "wit", Prefix: "p"}, ""},
		{"same bucket, other prefix", "{url: s3://bkt/p, witness: s3://bkt/w}", &Store{URL: "s3://bkt/w", PartSizeMiB: 8, Concurrency: 4, Scheme: SchemeS3, Bucket: "bkt", Prefix: "w"}, ""},
		{"the store itself", "{url: s3://bkt/p, witness: s3://bkt/p/}", nil, "store.witness: must not be the store itself"},
		{"the folder itself", "{url: file:///a, witness: 'file:///a/'}", nil, "store.witness: must not be the store itself"},
		{"not a store url", "{url: file:///a, witness: https://w}", nil, "store.witness: must be an s3:// or file:// URL"},
		{"credentials", "{url: file:///a, witness: 's3://k:pw@wit/p'}", nil, "store.witness: must not contain credentials"},
		{"relative folder", "{url: file:///a, witness: 'file://w'}", nil, "store.witness: file URL needs an absolute path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse([]byte("store: "+tc.store+"\n"+rest), "/", lookupIn(nil))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "pw") {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := c.Store.WitnessStore
			if (got == nil) != (tc.want == nil) || (got != nil && !reflect.DeepEqual(got, tc.want)) {
				t.Fatalf("witness = %+v, want %+v", got, tc.want)
			}
		})
	}
}
