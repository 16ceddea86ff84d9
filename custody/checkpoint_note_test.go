package custody_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/signing"
)

func noteSigner(t testing.TB, kind string) signing.Signer {
	t.Helper()
	var priv any
	switch kind {
	case "ed25519":
		priv = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	case "ecdsa":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		priv = k
	}
	s, err := signing.NewKeySigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const testOrigin = "file/srv/archive/app-logs"

// A checkpoint signed with either kind of key opens with that key and
// that origin (the root is base64 of SHA-256("root"), as sha256sum | base64 gives it), and is refused, with the error that says why, with another
// key, for another origin, or altered.
func TestTreeHeadNote(t *testing.T) {
	root := sha256.Sum256([]byte("root"))
	for _, kind := range []string{"ed25519", "ecdsa"} {
		t.Run(kind, func(t *testing.T) {
			s := noteSigner(t, kind)
			th, err := custody.SignTreeHead(context.Background(), s, testOrigin, 42, root[:])
			if err != nil {
				t.Fatal(err)
			}
			text, _, _ := strings.Cut(string(th.Note), "\n\n")
			if want := testOrigin + "\n42\n" + "SBNJTRN+FjG7owHVrKtue7eqdM4RhdRWVl71HXN2d7I="; text != want {
				t.Fatalf("note text %q, want %q", text, want)
			}
			got, err := custody.OpenTreeHead(th.Note, s.Public(), testOrigin)
			if err != nil {
				t.Fatal(err)
			}
			if got.Size != 42 || !bytes.Equal(got.Root, root[:]) || !bytes.Equal(got.Note, th.Note) {
				t.Fatalf("opened %+v", got)
			}
			other := noteSigner(t, "ecdsa")
			for _, tc := range []struct {
				name   string
				raw    []byte
				pub    any
				origin string
				want   error
			}{
				{"another key", th.Note, other.Public(), testOrigin, custody.ErrNoteKey},
				{"another origin", th.Note, s.Public(), "file/srv/archive/audit", custody.ErrNoteOrigin},
				{"size changed", bytes.Replace(th.Note, []byte("\n42\n"), []byte("\n43\n"), 1), s.Public(), testOrigin, custody.ErrNoteKey},
				{"not a note", []byte("42:abcd\n"), s.Public(), testOrigin, custody.ErrNoteFormat},
				{"too large", bytes.Repeat([]byte("a"), custody.MaxNoteBytes+1), s.Public(), testOrigin, custody.ErrNoteFormat},
			} {
				t.Run(tc.name, func(t *testing.T) {
					_, err := custody.OpenTreeHead(tc.raw, tc.pub, tc.origin)
					if !errors.Is(err, tc.want) {
						t.Fatalf("err = %v, want %v", err, tc.want)
					}
				})
			}
		})
	}
}

// A note signed by the trusted key whose text is not a checkpoint is
// ErrNoteFormat; unknown signatures beside ours are dropped.
func TestTreeHeadNoteText(t *testing.T) {
	s := noteSigner(t, "ed25519")
	root := sha256.Sum256(nil)
	th, err := custody.SignTreeHead(context.Background(), s, testOrigin, 1, root[:])
	if err != nil {
		t.Fatal(err)
	}
	extra := append(bytes.Clone(th.Note), []byte("\u2014 someone.example/key AAAAAAAA\n")...)
	got, err := custody.OpenTreeHead(extra, s.Public(), testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Note, th.Note) {
		t.Fatalf("note kept unverified lines:\n%s", got.Note)
	}
	if _, err := custody.SignTreeHead(context.Background(), s, "two\nlines", 1, root[:]); !errors.Is(err, custody.ErrNoteFormat) {
		t.Fatalf("origin with a newline: %v", err)
	}
}

// FuzzOpenTreeHead: any bytes either open as a checkpoint of the trusted
// key and origin, or give one of the three errors; never a panic.
func FuzzOpenTreeHead(f *testing.F) {
	s := noteSigner(f, "ed25519")
	root := sha256.Sum256(nil)
	th, err := custody.SignTreeHead(context.Background(), s, testOrigin, 7, root[:])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(th.Note)
	f.Add([]byte("x\n\n\u2014 a b\n"))
	f.Add(bytes.Replace(th.Note, []byte("\n7\n"), []byte("\n07\n"), 1))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := custody.OpenTreeHead(raw, s.Public(), testOrigin)
		if err == nil {
			if got.Origin != testOrigin || len(got.Root) != 32 {
				t.Fatalf("opened %+v", got)
			}
			return
		}
		if !errors.Is(err, custody.ErrNoteKey) && !errors.Is(err, custody.ErrNoteFormat) && !errors.Is(err, custody.ErrNoteOrigin) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}
