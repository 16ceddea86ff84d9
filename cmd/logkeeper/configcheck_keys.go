package main

import (
	"context"
	"fmt"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/service/app"
)

// rotationWarnings reads (never writes) each stream's key history and
// warns when the configured signing key was rotated away from: exports
// would be refused until signing.key names the new key. A store that
// cannot be reached within a few seconds gives no warning (config check
// is about the file).
func rotationWarnings(ctx context.Context, cfg *config.Config) []string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pub, err := app.PublicKey(ctx, cfg, "")
	if err != nil {
		return nil
	}
	st, err := app.OpenStoreReadOnly(ctx, cfg)
	if err != nil {
		return nil
	}
	id, _ := signing.KeyID(pub)
	var out []string
	for _, s := range cfg.Streams {
		cur, since, err := custody.CurrentKey(ctx, st, s.Name, pub)
		if err != nil || cur == "" || cur == id {
			continue
		}
		out = append(out, fmt.Sprintf("signing.key: stream %s was rotated to key %s at sequence %d; the configured key %s no longer signs it: name the new key in signing.key (export refuses until then)", s.Name, cur, since-1, id))
	}
	return out
}
