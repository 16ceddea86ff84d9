package policycheck

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/service/app"
)

// s3Only are the checks of an S3 store, reported as unknown for a file
// store (a folder has no server that enforces them), with what a folder
// lacks.
var s3Only = []struct{ name, lacks string }{
	{CheckVersioning, "a folder keeps no versions"},
	{CheckObjectLock, "a folder has no Object Lock: write-once is enforced by logkeeper alone"},
	{CheckDefaultRetention, "a folder has no retention"},
	{CheckDefaultEncryption, "a folder has no server-side encryption"},
	{CheckPublicAccessBlock, "a folder has no public access settings (see " + CheckFolderPermissions + ")"},
	{CheckPolicyTLS, "a folder has no bucket policy"},
	{CheckPolicyUnencrypted, "a folder has no bucket policy"},
	{CheckPolicyOtherKey, "a folder has no bucket policy"},
	{CheckKeyRotation, "a file store encrypts nothing with KMS"},
	{CheckKeyPolicyContext, "a file store encrypts nothing with KMS"},
}

// fileStore runs the checks of a file store: the folder's permissions,
// and the S3 checks as unknown (not applicable).
func (c *checker) fileStore(path, check, key string) error {
	if err := c.folder(path, check, key); err != nil {
		return err
	}
	for _, n := range s3Only {
		c.add(n.name, StatusUnknown, "not applicable to a file store: "+n.lacks,
			"for WORM storage archive to an S3 bucket with Object Lock (store.url: s3://BUCKET/PREFIX)")
	}
	return nil
}

// folder checks that a store's folder, and every folder directly in it,
// is a real folder (not a symbolic link) that neither the group nor others
// may write, owned by the user running the check. A folder that does not
// exist is a store that cannot be reached.
func (c *checker) folder(path, check, key string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %s: %w", key, path, store.ErrNoStore)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	fix := fmt.Sprintf("chmod -R go-w %s (and keep it owned by the user logkeeper runs as)", path)
	if !fi.IsDir() {
		c.add(check, StatusFail, fmt.Sprintf("%s %s is not a folder (%s)", key, path, fi.Mode().Type()), fmt.Sprintf("point %s at a real folder", key))
		return nil
	}
	var bad []string
	note := func(p string, fi fs.FileInfo) {
		if fi.Mode()&fs.ModeSymlink != 0 {
			bad = append(bad, p+" is a symbolic link")
			return
		}
		if fi.Mode().Perm()&0o022 != 0 {
			bad = append(bad, fmt.Sprintf("%s is %s (writable by group or others)", p, fi.Mode().Perm()))
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
			bad = append(bad, fmt.Sprintf("%s is owned by uid %d, not %d", p, st.Uid, os.Geteuid()))
		}
	}
	note(path, fi)
	entries, err := os.ReadDir(path)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	for _, e := range entries {
		if !e.IsDir() && e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		p := filepath.Join(path, e.Name())
		if fi, err := os.Lstat(p); err == nil {
			note(p, fi)
		}
	}
	if len(bad) > 0 {
		more := ""
		if len(bad) > 3 {
			more = fmt.Sprintf(" and %d more", len(bad)-3)
			bad = bad[:3]
		}
		c.add(check, StatusFail, strings.Join(bad, "; ")+more, fix)
		return nil
	}
	c.add(check, StatusPass, fmt.Sprintf("%s and the folders in it: not writable by group or others, owned by uid %d", path, os.Geteuid()), "")
	return nil
}

// witness checks store.witness: an S3 witness must have Object Lock with
// a default retention in COMPLIANCE mode (checkpoints are written there
// without a retention of their own, so the default is what locks them); a
// folder gets the folder check.
func (c *checker) witness(ctx context.Context, w store.Store) error {
	ws := c.cfg.Store.WitnessStore
	fixS3 := "set store.witness to another bucket with Object Lock and a default retention in COMPLIANCE mode"
	if ws == nil {
		c.add(CheckWitnessObjectLock, StatusUnknown, "no store.witness: a rewritten or truncated chain is caught only against checkpoints kept by hand", fixS3)
		return nil
	}
	if ws.Scheme == config.SchemeFile {
		c.add(CheckWitnessObjectLock, StatusUnknown, fmt.Sprintf("store.witness %s is a folder: no Object Lock", ws.Path), fixS3)
		return c.folder(ws.Path, CheckWitnessPermissions, "store.witness")
	}
	if w == nil {
		var err error
		if w, err = app.OpenWitnessReadOnly(ctx, c.cfg); err != nil {
			return err
		}
	}
	b, ok := w.(Bucket)
	if !ok {
		return fmt.Errorf("store.witness %s: not an S3 bucket whose settings can be read", w.Describe())
	}
	name := b.Bucket()
	fix := fmt.Sprintf("aws s3api put-object-lock-configuration --bucket %s --object-lock-configuration 'ObjectLockEnabled=Enabled,Rule={DefaultRetention={Mode=COMPLIANCE,Days=3650}}'", name)
	if name == c.cfg.Store.Bucket && c.cfg.Store.Scheme == config.SchemeS3 {
		c.add(CheckWitnessObjectLock, StatusFail, fmt.Sprintf("store.witness is in the store's own bucket %s: whoever can rewrite the store can rewrite the witness", name), fixS3)
		return nil
	}
	out, err := b.BucketObjectLock(ctx)
	o, why, fatal := answer("GetObjectLockConfiguration", err, codeNoObjectLock)
	if fatal != nil {
		return fmt.Errorf("store.witness: %w", fatal)
	}
	var conf *types.ObjectLockConfiguration
	if o == answered {
		conf = out.ObjectLockConfiguration
	}
	switch {
	case o == silent:
		c.add(CheckWitnessObjectLock, StatusUnknown, fmt.Sprintf("witness bucket %s: %s", name, why), fix)
	case conf == nil || conf.ObjectLockEnabled != types.ObjectLockEnabledEnabled:
		c.add(CheckWitnessObjectLock, StatusFail, fmt.Sprintf("witness bucket %s: Object Lock is not enabled: its checkpoints can be deleted", name), fix)
	case conf.Rule == nil || conf.Rule.DefaultRetention == nil:
		c.add(CheckWitnessObjectLock, StatusFail, fmt.Sprintf("witness bucket %s: Object Lock enabled without a default retention: checkpoints are written without one, so nothing locks them", name), fix)
	case conf.Rule.DefaultRetention.Mode != types.ObjectLockRetentionModeCompliance:
		c.add(CheckWitnessObjectLock, StatusFail, fmt.Sprintf("witness bucket %s: default retention %s %s: who may bypass governance can delete checkpoints", name, conf.Rule.DefaultRetention.Mode, describeRetention(conf.Rule.DefaultRetention)), fix)
	default:
		c.add(CheckWitnessObjectLock, StatusPass, fmt.Sprintf("witness bucket %s: Object Lock with default retention COMPLIANCE %s", name, describeRetention(conf.Rule.DefaultRetention)), "")
	}
	return nil
}
