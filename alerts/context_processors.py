from django.urls import reverse

from governance.roles import Permission


class Bell:
    """The top bar's bell: unread in-app alert notifications (all the user's projects),
    counted by one query, and only when a template asks."""

    def __init__(self, user, project):
        self.user = user
        self.url = reverse("alerts:notifications", kwargs={"project_id": project.pk})
        self._unread = None

    @property
    def unread(self) -> int:
        if self._unread is None:
            from .models import Notification  # noqa: PLC0415

            self._unread = Notification.objects.filter(
                user=self.user, read_at__isnull=True, status=Notification.Status.SENT
            ).count()
        return self._unread


def bell(request):
    project = getattr(request, "project", None)
    user = getattr(request, "user", None)
    if project is None or user is None or not user.is_authenticated:
        return {}
    if Permission.VIEW_INSIGHTS not in getattr(request, "perms", frozenset()):
        return {}
    return {"alert_bell": Bell(user, project)}
