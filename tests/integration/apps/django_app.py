"""tests/integration/apps/django_app.py: a minimal Django project in one file
(sync view through asgiref threads, async view, streaming response)."""
import os
from django.conf import settings
settings.configure(DEBUG=False, SECRET_KEY="x", ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"],
                   MIDDLEWARE=[], INSTALLED_APPS=[])
import django
django.setup()
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path
import asyncio

def index(request):
    return HttpResponse("hello django sync")

async def aview(request):
    await asyncio.sleep(0.01)
    return JsonResponse({"method": request.method, "path": request.path, "q": request.GET.get("q"), "body": len(request.body)})

def stream(request):
    return StreamingHttpResponse((f"line {i}\n" for i in range(5)))

urlpatterns = [path("", index), path("a", aview), path("s", stream)]
from django.core.asgi import get_asgi_application
app = get_asgi_application()
