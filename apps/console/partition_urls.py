"""Routes of the partition browser, documents and cache inspector."""

urlpatterns = []
