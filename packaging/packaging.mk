# packaging/: man pages, data files for `make install`, the Debian package,
# and the checks of every manifest and config shipped for runtimes and
# Kubernetes.  Included by the top-level Makefile.
#
#   make man            build/man/*.{5,8} from packaging/man/*.md (go-md2man)
#   make install-data   man pages, hooks.d JSON, default config, systemd
#                       units, bash completion, samepage-containerd-spec
#                       (run by `make install`)
#   make deb            build/deb/samepage_$(VERSION)_<arch>.deb + lintian
#   make check-packaging  the packaging bats tests (5*.bats) on their own

DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
HOOKSDIR ?= $(DATADIR)/containers/oci/hooks.d
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system

MAN_SRCS := $(wildcard packaging/man/*.md)
MAN_PAGES := $(patsubst packaging/man/%.md,$(B)/man/%,$(MAN_SRCS))
SYSTEMD_UNITS := $(wildcard packaging/systemd/*.service packaging/systemd/*.timer)
HOOKS_JSON := $(wildcard packaging/hooks.d/*.json)

EXTRA_DEB_DEPS += go-md2man debhelper dpkg-dev lintian python3-yaml podman bash-completion
INSTALL_EXTRA += install-data

.PHONY: man install-data deb check-packaging

man: $(MAN_PAGES)

# samepage.8.md → build/man/samepage.8
$(B)/man/%: packaging/man/%.md
	@mkdir -p $(dir $@)
	go-md2man -in $< -out $@.tmp && mv $@.tmp $@

# Paths in the shipped files are those of the Debian package (/usr); an
# install elsewhere gets them rewritten to where it put the programs.
SP_PATH_SED := -e 's|/usr/libexec/samepage/samepage-hook|$(LIBEXECDIR)/samepage/samepage-hook|g' \
	-e 's|/usr/bin/samepage|$(BINDIR)/samepage|g'

install-data: man
	install -d $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(HOOKSDIR) \
		$(DESTDIR)$(SYSCONFDIR)/samepage $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 $(filter %.5,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(filter %.8,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man8/
	set -e; for f in $(HOOKS_JSON); do \
		sed $(SP_PATH_SED) $$f > $(DESTDIR)$(HOOKSDIR)/$$(basename $$f).tmp; \
		chmod 0644 $(DESTDIR)$(HOOKSDIR)/$$(basename $$f).tmp; \
		mv $(DESTDIR)$(HOOKSDIR)/$$(basename $$f).tmp $(DESTDIR)$(HOOKSDIR)/$$(basename $$f); \
	done
	set -e; for f in $(SYSTEMD_UNITS); do \
		sed $(SP_PATH_SED) $$f > $(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$f).tmp; \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$f).tmp; \
		mv $(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$f).tmp $(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$f); \
	done
	install -m 0644 packaging/bash-completion/samepage $(DESTDIR)$(BASHCOMPDIR)/samepage
	@# containerd's runtime handler and base spec (packaging/containerd/).
	install -d $(DESTDIR)$(LIBEXECDIR)/samepage
	sed $(SP_PATH_SED) packaging/containerd/samepage-containerd-spec > $(DESTDIR)$(LIBEXECDIR)/samepage/samepage-containerd-spec.tmp
	chmod 0755 $(DESTDIR)$(LIBEXECDIR)/samepage/samepage-containerd-spec.tmp
	mv $(DESTDIR)$(LIBEXECDIR)/samepage/samepage-containerd-spec.tmp $(DESTDIR)$(LIBEXECDIR)/samepage/samepage-containerd-spec
	@# Never overwrite an operator's config on a re-install.
	if [ -e $(DESTDIR)$(SYSCONFDIR)/samepage/samepage.conf ]; then \
		echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/samepage/samepage.conf"; \
	else \
		install -m 0644 packaging/samepage.conf $(DESTDIR)$(SYSCONFDIR)/samepage/samepage.conf; \
	fi

# The .deb is built from a copy of the tree, so dpkg-buildpackage's own
# build/ and debian/ never mix with the working tree's.
DEB_DIR := $(B)/deb
DEB_SRC := $(DEB_DIR)/samepage-$(VERSION)
DEB_ARCH = $(shell dpkg --print-architecture)
DEB_FILE = $(DEB_DIR)/samepage_$(VERSION)_$(DEB_ARCH).deb

deb:
	@grep -q '^samepage ($(VERSION))' packaging/debian/changelog || \
		{ echo "packaging/debian/changelog does not start with version $(VERSION)" >&2; exit 1; }
	rm -rf $(DEB_SRC) $(DEB_DIR)/samepage_* $(DEB_DIR)/samepage-dbgsym_*
	mkdir -p $(DEB_SRC)
	tar -c --exclude=./$(B) --exclude=./.git --exclude=./.ci --exclude=./kernel --exclude=./bench --exclude=./test . | tar -x -C $(DEB_SRC)
	cp -r packaging/debian $(DEB_SRC)/debian
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc -b
	lintian --fail-on error --info $(DEB_FILE)
	@echo "built $(DEB_FILE)"

check-packaging: all
	bats --print-output-on-failure $(wildcard test/integration/5*.bats)
