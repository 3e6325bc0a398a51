"""Pagination: pages of a page number for lists, a cursor for histories (new rows never shift the pages)."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination, PageNumberPagination


class PagePagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class HistoryPagination(CursorPagination):
    """Newest first; the app follows `next` to scroll back in time."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = "-start_date_time"
