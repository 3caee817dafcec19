// Package pgtest gives tests a PostgreSQL database of their own on the server that .ci/postgres starts (CI
// exports its URL as AUTOTUNE_TEST_POSTGRES). Without that variable the tests skip and say why; under CI=true
// they fail instead, so that a CI run never passes without having tested PostgreSQL.
package pgtest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, which gorm's postgres driver also uses

	"github.com/autotune/autotune/internal/citest"
)

// EnvVar names the variable with the URL of a PostgreSQL database whose user may create databases.
const EnvVar = "AUTOTUNE_TEST_POSTGRES"

// URL creates an empty database for this test and returns its postgres:// URL; the database is dropped when the
// test ends.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvVar)
	if base == "" {
		citest.SkipUnlessCI(t, "no PostgreSQL: set %s to a postgres:// URL whose user may create databases (bash .ci/postgres start DIR prints one; .ci/run starts it and exports it)", EnvVar)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}
	defer admin.Close()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "autotune_t_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create a test database on %s: %v", EnvVar, err)
	}
	t.Cleanup(func() {
		d, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer d.Close()
		_, _ = d.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}
	u.Path = "/" + name
	return u.String()
}
