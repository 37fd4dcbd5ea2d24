{#- A few containers per minion, each on that minion's own Docker engine.
    pillar:
      demo:
        containers:
          web: {command: "httpd -f -p 8080 -h /tmp", ports: ["127.0.0.1::8080"]}
-#}
{%- from tpldir ~ "/map.jinja" import demo with context %}

{%- for name, spec in demo.containers | dictsort %}
{%-   set spec = spec or {} %}
{%-   set labels = dict(demo.labels) %}
{%-   do labels.update(spec.get('labels', {})) %}
demo-container-{{ name }}:
  container.running:
    - name: {{ name }}
    - image: {{ spec.get('image', demo.image) }}
{%-   if demo.profile %}
    - profile: {{ demo.profile }}
{%-   endif %}
    - labels: {{ labels | json }}
{%-   for key, value in spec | dictsort if key not in ('image', 'labels') %}
    - {{ key }}: {{ value | json }}
{%-   endfor %}
{%- endfor %}
