# The two commands of the README do all the set-up themselves on a fresh machine.
.PHONY: demo test stop lint install status tour package

demo:   ## set up, start the demo scratch cluster and run a flash sale on it, live, with a report
	scripts/demo.sh

tour:   ## walk through stages, ledger, channels and notifications in SQL on the demo cluster
	scripts/tour.sh

test:   ## set up and run every test layer (unit, pg_test, pg_regress, real client, ...) on PostgreSQL 15 and 18
	scripts/test.sh

stop:   ## stop this checkout's scratch clusters
	scripts/cluster.sh stop all

status: ## list this checkout's scratch clusters
	scripts/cluster.sh status

install: ## build the extension and install it into Debian's PostgreSQL 15
	scripts/setup.sh
	scripts/cluster.sh install

package: ## build the Debian package for PostgreSQL 15 and a tarball for 18, into target/package
	scripts/package.sh
	IT_PG=18 scripts/package.sh

lint:   ## formatting, clippy and shellcheck, as CI checks them
	scripts/lint.sh
