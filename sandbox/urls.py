from django.urls import path, re_path

from sandbox import views

app_name = "sandbox"

urlpatterns = [
    re_path(r"^volcengine/?$", views.volcengine, name="volcengine"),
    path("gateway/v1/video/generations", views.gateway_collection, name="gateway"),
    path("gateway/v1/video/generations/<str:task_id>", views.gateway_item, name="gateway-item"),
    re_path(r"^files/(?P<key>[0-9a-f]{32})\.mp4$", views.video_file, name="file"),
    re_path(r"^samples/(?P<name>[a-z]+\.(?:jpg|png))$", views.sample_image, name="sample"),
]
