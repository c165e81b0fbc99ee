from django.http import HttpResponse


def alerts(request, project_id):
    return HttpResponse("")


alert_new = notifications = alerts


def alert(request, project_id, alert_id):
    return HttpResponse("")


alert_edit = alert_snooze = alert_delete = alert
