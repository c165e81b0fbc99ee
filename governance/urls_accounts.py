"""A user's own account pages (not namespaced, Django's auth views look these names up)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import accounts, twofactor

urlpatterns = [
    path("account/", accounts.account, name="account"),
    path("account/sign-out-everywhere/", accounts.signout_everywhere, name="signout_everywhere"),
    path("account/two-factor/", twofactor.two_factor, name="two_factor"),
    path("login/verify/", twofactor.two_factor_verify, name="two_factor_verify"),
    path("account/password/", accounts.PasswordChangeView.as_view(), name="password_change"),
    path("password-reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="registration/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        accounts.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="registration/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
]
