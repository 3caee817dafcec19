# make release: the prebuilt binary the Colab notebook downloads. Static, so that it runs on any x86-64 Linux
# whatever its glibc (Colab's is older than the build machine's): go-sqlite3 is cgo, so the C parts are linked
# statically by the external linker; the osusergo and netgo tags keep glibc's NSS (user and DNS lookups, which
# cannot be linked statically) out, and sqlite_omit_load_extension drops sqlite's dlopen.
VERSION ?= 0.1.0-dev
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
PKG     := main
LDFLAGS := -s -w -X $(PKG).version=$(VERSION) -X $(PKG).commit=$(COMMIT) -linkmode external -extldflags "-static"
TAGS    := osusergo,netgo,sqlite_omit_load_extension
OUT     := dist/autotune_linux_amd64

.PHONY: release check-release clean

release: $(OUT)

# Always rebuilt: the commit stamped into it must be the checkout's.
$(OUT): FORCE
	mkdir -p dist
	CGO_ENABLED=1 GOOS=linux GOARCH=amd64 go build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $@ ./cmd/autotune

# check-release proves the binary is static and names its commit.
check-release: release
	@ldd $(OUT) 2>&1 | grep -q 'not a dynamic executable' || { echo "check-release: $(OUT) is dynamically linked:"; ldd $(OUT); exit 1; }
	@file $(OUT) | grep -q 'statically linked' || { echo "check-release: file does not call $(OUT) statically linked:"; file $(OUT); exit 1; }
	@$(OUT) version | grep -qF '(commit $(COMMIT),' || { echo "check-release: $(OUT) version does not name commit $(COMMIT):"; $(OUT) version; exit 1; }
	@echo "check-release: $(OUT) is static and reports: $$($(OUT) version)"

clean:
	rm -rf dist

FORCE:
