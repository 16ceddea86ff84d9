package config_test

import (
	"fmt"

	"github.com/logkeeper/logkeeper/internal/config"
)

func ExampleParse() {
	cfg, err := config.Parse([]byte(`
store:
  url: s3://compliance-archive/logkeeper/
  object_lock: {mode: COMPLIANCE, retain_days: 2555}
signing:
  key: awskms://alias/logkeeper-signing
streams:
  - name: app-logs
    schedule: "@hourly"
    source: {type: dir, path: logs}
`), "/etc/logkeeper")
	if err != nil {
		fmt.Println(err)
		return
	}
	s := cfg.Streams[0]
	fmt.Println(cfg.Store.Bucket, cfg.Store.Prefix, cfg.Store.PartSize())
	fmt.Println(cfg.Signing.KeyScheme, cfg.Signing.KMSKeyID)
	fmt.Println(s.Name, s.Window, s.Source.Path)
	// Output:
	// compliance-archive logkeeper 8388608
	// awskms alias/logkeeper-signing
	// app-logs 1h0m0s /etc/logkeeper/logs
}

func ExampleParse_errors() {
	_, err := config.Parse([]byte(`
store:
  url: s3://compliance-archive
  object_lock: {mode: compliant, retain_days: 7}
  bogus: true
signing:
  key: file://signing.pem
streams:
  - name: app-logs
    source: {type: dir}
`), "/etc/logkeeper")
	fmt.Println(err)
	// Output:
	// store.object_lock.mode: must be GOVERNANCE or COMPLIANCE, got "compliant" (line 4)
	// store.bogus: unknown key (line 5)
	// signing.key: file URL needs an absolute path, as in file:///ABS/PATH ("signing.pem" is read as a host name) (line 7)
	// streams[0].source.path: required for source type dir (line 10)
}
