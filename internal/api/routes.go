package api

import (
	"context"
	"net/http"
)

func ping(context.Context, *call) (any, error) { return "pong", nil }

func (s *Service) managementRoutes() *router {
	rt := &router{s: s, listener: "management"}
	rt.add(http.MethodGet, "/ping", ping)

	rt.add(http.MethodPost, "/targets", s.createTarget)
	rt.add(http.MethodGet, "/targets", s.legacyListTargets)
	rt.add(http.MethodDelete, "/targets", s.deleteTargets)
	rt.add(http.MethodGet, "/targets/infos", s.listTargets)
	rt.add(http.MethodGet, "/targets/count", s.countTargets)
	rt.add(http.MethodGet, "/target/{}", s.getTarget)
	rt.add(http.MethodPut, "/target/{}", s.updateTarget)
	rt.add(http.MethodDelete, "/target/{}", s.deleteTarget)
	rt.add(http.MethodPost, "/similar", s.similar)
	rt.add(http.MethodPost, "/grade/detection", s.grade("detection"))
	rt.add(http.MethodPost, "/grade/tracking", s.grade("tracking"))
	rt.add(http.MethodPost, "/grade/detail", s.grade("detail"))
	rt.add(http.MethodPost, "/token/v2", s.issueToken)

	rt.add(http.MethodGet, "/admin/apps", s.admin(s.adminListApps))
	rt.add(http.MethodPost, "/admin/apps", s.admin(s.adminCreateApp))
	rt.add(http.MethodGet, "/admin/apps/{}", s.admin(s.adminGetApp))
	rt.add(http.MethodDelete, "/admin/apps/{}", s.admin(s.adminDeleteApp))
	rt.add(http.MethodPut, "/admin/apps/{}/limits", s.admin(s.adminSetLimits))
	rt.add(http.MethodGet, "/admin/apps/{}/usage", s.admin(s.adminUsage))
	rt.add(http.MethodGet, "/admin/keys", s.admin(s.adminListKeys))
	rt.add(http.MethodPost, "/admin/keys", s.admin(s.adminCreateKey))
	rt.add(http.MethodDelete, "/admin/keys/{}", s.admin(s.adminRevokeKey))

	rt.add(http.MethodGet, "/metrics", nil).raw = s.serveMetrics
	return rt
}

func (s *Service) recognitionRoutes() *router {
	rt := &router{s: s, listener: "recognition"}
	rt.add(http.MethodGet, "/ping", ping)
	rt.add(http.MethodPost, "/search", s.searchAny).msgObject = true
	rt.add(http.MethodPost, "/v2/search", s.searchAny).msgObject = true
	return rt
}
