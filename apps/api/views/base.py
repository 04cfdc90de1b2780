"""What every API view shares: credentials, permission, limits, parser, error handler."""

from rest_framework.exceptions import PermissionDenied
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from apps.accounts.partition import Partition
from apps.accounts.tenancy import OtherTenantRefused, operator_tenant
from apps.common.http import BoundedJSONParser, invocation_exception_handler

from ..authentication import SESSION, ApiTokenAuthentication
from ..permissions import IsOperator, IsPlatformUser
from ..throttling import TokenRateThrottle, refusal


class ApiView(APIView):
    """A /api/v1/ route for a signed-in user: a token first, else the session.

    A token comes first so that its 401 carries ``WWW-Authenticate: Token``.
    """

    authentication_classes = [ApiTokenAuthentication, SESSION]
    permission_classes = [IsPlatformUser]
    throttle_classes = [TokenRateThrottle]
    parser_classes = [BoundedJSONParser]
    renderer_classes = [JSONRenderer]

    def get_exception_handler(self):
        return invocation_exception_handler

    def throttled(self, request, wait):
        raise refusal(self, wait)

    def partition(self, app_id):
        """Return the signed-in user's partition of extension ``app_id``."""
        user = self.request.user
        return Partition(user.tenant_id, app_id, user.imperal_id)


class OperatorView(ApiView):
    """A /api/v1/operator/ route: a staff user with ``required_permissions``."""

    permission_classes = [IsOperator]
    required_permissions = ()

    def tenant(self):
        """Return the tenant an operator acts in: their own; a superuser may name
        another with ``?tenant=``. Raises PermissionDenied (403) otherwise."""
        try:
            return operator_tenant(
                self.request.user, self.request.query_params.get("tenant")
            )
        except OtherTenantRefused as exc:
            raise PermissionDenied(f"{exc} (?tenant=)") from None
