# tests/bench/http.mk - the HTTP benchmark (httpsrv, nginx, evhttp under wrk)
# (included by Makefile.am; filled in by its issue)
