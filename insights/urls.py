app_name = "insights"
urlpatterns: list = []
