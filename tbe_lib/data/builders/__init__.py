"""One module per dataset: parse the official annotation files into
:class:`~tbe_lib.data.builders._common.Annotations`. The public entry point is
:func:`tbe_lib.data.lists.build_lists`."""

from ._common import ListBuildError, count_frames, template_regex

__all__ = ["ListBuildError", "count_frames", "template_regex"]
